"""Matplotlib figures of a run: the loss curves and the step-labelled panel of grids.

Figures are drawn on the Agg canvas (no display needed) and closed after saving, so a
long session does not accumulate them as the recipe's notebook did.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan.runs.text_log import LossHistory

CURVES = (
    ("d_real_loss", "discriminator, real"),
    ("d_fake_loss", "discriminator, fake"),
    ("g_loss", "GAN (generator)"),
)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to `window` values: same length, no lag at the start."""
    if window <= 1:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def plot_losses(history: LossHistory, output: Path | None, smooth: int = 1, show: bool = False) -> None:
    """Plot the three losses against the step; save to `output` and/or show a window."""
    if show:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(10, 5))
    else:
        figure = _figure(10, 5)
    axes = figure.add_subplot()
    for key, label in CURVES:
        axes.plot(history.steps, moving_average(getattr(history, key), smooth), label=label, linewidth=1)
    axes.set_xlabel("step")
    axes.set_ylabel("binary cross-entropy")
    axes.set_title("Training losses" + (f" (moving average of {smooth} steps)" if smooth > 1 else ""))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    if output is not None:
        figure.savefig(output)
    if show:
        plt.show()
        plt.close(figure)


def progress_panel(grids: list[tuple[int, Path]], output: Path, columns: int = 4) -> None:
    """The given (step, grid PNG) pictures side by side, each titled with its step."""
    from PIL import Image

    rows = -(-len(grids) // columns)
    columns = min(columns, len(grids))
    figure = _figure(3 * columns, 3.3 * rows)
    for index, (step, path) in enumerate(grids):
        axes = figure.add_subplot(rows, columns, index + 1)
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        axes.imshow(pixels, interpolation="nearest")
        axes.set_title(f"step {step}")
        axes.axis("off")
    figure.tight_layout()
    figure.savefig(output)
