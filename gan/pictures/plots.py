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
    axes.set_ylabel("loss")
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


HEALTHY_COLOUR, TROUBLE_COLOUR = "#d8f0d8", "#f6c8c8"
HEALTH_CURVES = (  # evidence entry, its figure drawn, its threshold, the legend
    ("realism", "value", "stuck_above", "realism (1: untrained, 0: the data)"),
    ("structure", "settled", "stalled_above", "structure, two checks averaged (1: untrained)"),
    ("diversity", "value", "collapse_below", "diversity (1: the data's)"),
)


def plot_health(history: LossHistory, checks: list[dict], rollbacks: list[int], output: Path) -> None:
    """The losses above and the health signals below, each check's verdict as a coloured
    band behind both (green healthy, red a trouble, named where it starts), and a dashed
    line at each step a rollback returned to."""
    figure = _figure(10, 7)
    losses, signals = figure.subplots(2, 1, sharex=True)
    for key, label in CURVES:
        losses.plot(history.steps, moving_average(getattr(history, key), 25), label=label, linewidth=1)
    steps = [check["step"] for check in checks]
    judged = [check for check in checks if "realism" in check["evidence"]]  # not the line of a non-finite stop
    for key, figure_drawn, threshold, label in HEALTH_CURVES:
        measured = [check for check in judged if key in check["evidence"]]  # runs from before a signal lack it
        if not measured:
            continue
        line, = signals.plot([c["step"] for c in measured], [c["evidence"][key][figure_drawn] for c in measured], marker=".", label=label)
        limit = measured[0]["evidence"][key][threshold]
        signals.axhline(limit, color=line.get_color(), linestyle=":", linewidth=1, label=f"{threshold.replace('_', ' ')} {limit}")
    spacing = np.median(np.diff(steps)) if len(steps) > 1 else 1
    previous = None
    for check in checks:
        colour = HEALTHY_COLOUR if check["verdict"] == "healthy" else TROUBLE_COLOUR
        for axes in (losses, signals):
            axes.axvspan(check["step"] - spacing / 2, check["step"] + spacing / 2, color=colour, linewidth=0, zorder=0)
        if check["verdict"] != previous and check["verdict"] != "healthy":
            signals.annotate(check["verdict"], (check["step"], 1.02), xycoords=("data", "axes fraction"), fontsize=8, color="#a00000")
        previous = check["verdict"]
    for step in rollbacks:
        for axes in (losses, signals):
            axes.axvline(step, color="#4040a0", linestyle="--", linewidth=1)
        signals.annotate("rollback", (step, 0.95), xycoords=("data", "axes fraction"), fontsize=8, color="#4040a0")
    losses.set_ylabel("loss (moving average of 25 steps)")
    losses.set_title("Training losses and health checks (green: healthy, red: trouble)")
    signals.set_ylabel("health signal")
    signals.set_xlabel("step")
    for axes in (losses, signals):
        axes.grid(alpha=0.3)
        axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(output)
