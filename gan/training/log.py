"""What a run records as it goes: the recipe's text log and TensorBoard summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan.runs.health_log import HEALTHY
from gan.runs.text_log import format_log_line, truncate_log

SCALARS = {
    "d_real_loss": "loss/discriminator_real",
    "d_fake_loss": "loss/discriminator_fake",
    "g_loss": "loss/gan",
    "d_real": "discriminator/D(x)",
    "d_fake": "discriminator/D(G(z))",
}

HEALTH_SCALARS = ("diversity", "spectrum_gap", "pixel_gap")


class TrainingLog:
    """Appends one flushed line per step to the text log and mirrors it to TensorBoard.

    The file is opened once for the whole run (the recipe reopened it every step).
    """

    def __init__(self, log_path: Path, tensorboard_dir: Path):
        import tensorflow as tf

        self._tf = tf
        self._path = log_path
        self._file = open(log_path, "a", encoding="utf-8")
        self._writer = tf.summary.create_file_writer(str(tensorboard_dir))

    def step(self, step: int, figures: dict[str, float]) -> None:
        self._file.write(format_log_line(step, figures))
        self._file.flush()
        with self._writer.as_default(step=step):
            for key, tag in SCALARS.items():
                self._tf.summary.scalar(tag, figures[key])

    def cut_at(self, steps: int) -> None:
        """Drop the lines of step `steps` on (a rollback's abandoned steps) and go on appending."""
        self._file.close()
        truncate_log(self._path, steps)
        self._file = open(self._path, "a", encoding="utf-8")

    def metrics(self, step: int, result: dict[str, float]) -> None:
        with self._writer.as_default(step=step):
            for key in ("fid", "kid", "precision", "recall"):
                self._tf.summary.scalar(f"metrics/{key}", result[key])

    def health(self, step: int, verdict: str, signals: dict[str, float]) -> None:
        """The health signals as scalars, and the verdict as text and as 1 (healthy) or 0."""
        with self._writer.as_default(step=step):
            for key in HEALTH_SCALARS:
                if key in signals:
                    self._tf.summary.scalar(f"health/{key}", signals[key])
            self._tf.summary.scalar("health/healthy", float(verdict == HEALTHY))
            self._tf.summary.text("health/verdict", verdict)

    def image(self, tag: str, step: int, grid: np.ndarray) -> None:
        with self._writer.as_default(step=step):
            self._tf.summary.image(tag, grid[np.newaxis], max_outputs=1)

    def close(self) -> None:
        self._file.close()
        self._writer.close()

    def __enter__(self) -> "TrainingLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
