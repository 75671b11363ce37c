"""What a run records as it goes: the recipe's text log and TensorBoard summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan.runs.text_log import format_log_line

SCALARS = {
    "d_real_loss": "loss/discriminator_real",
    "d_fake_loss": "loss/discriminator_fake",
    "g_loss": "loss/gan",
    "d_real": "discriminator/D(x)",
    "d_fake": "discriminator/D(G(z))",
}


class TrainingLog:
    """Appends one flushed line per step to the text log and mirrors it to TensorBoard.

    The file is opened once for the whole run (the recipe reopened it every step).
    """

    def __init__(self, log_path: Path, tensorboard_dir: Path):
        import tensorflow as tf

        self._tf = tf
        self._file = open(log_path, "a", encoding="utf-8")
        self._writer = tf.summary.create_file_writer(str(tensorboard_dir))

    def step(self, step: int, figures: dict[str, float]) -> None:
        self._file.write(format_log_line(step, figures))
        self._file.flush()
        with self._writer.as_default(step=step):
            for key, tag in SCALARS.items():
                self._tf.summary.scalar(tag, figures[key])

    def metrics(self, step: int, result: dict[str, float]) -> None:
        with self._writer.as_default(step=step):
            for key in ("fid", "kid", "precision", "recall"):
                self._tf.summary.scalar(f"metrics/{key}", result[key])

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
