"""The recipe's text log: one line per step, written, read back and cut at a checkpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan.runs.atomic import atomic_write

LOG_LINE = "Step: {step} Disc: real loss: {d_real_loss:f} fake loss: {d_fake_loss:f} GAN loss: {g_loss:f}\n"
_NUMBER = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"
LOG_PATTERN = re.compile(
    rf"Step: (\d+) Disc: real loss: {_NUMBER} fake loss: {_NUMBER} GAN loss: {_NUMBER}"
)
def format_log_line(step: int, figures: dict[str, float]) -> str:
    return LOG_LINE.format(step=step, **figures)


@dataclass
class LossHistory:
    """The losses of a text log as arrays, and how many lines could not be read."""

    steps: np.ndarray
    d_real_loss: np.ndarray
    d_fake_loss: np.ndarray
    g_loss: np.ndarray
    skipped_lines: int


def read_log(path: Path) -> LossHistory:
    """Parse a training log, tolerating lines cut short or garbled (a run killed mid-write).

    Also reads the original tutorial's logs, which share the format.
    """
    rows, skipped = [], 0
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            # A last line without its newline was cut off mid-write, whatever it holds.
            match = LOG_PATTERN.fullmatch(line.strip()) if line.endswith("\n") else None
            if match:
                rows.append((int(match.group(1)), *(float(group) for group in match.groups()[1:])))
            elif line.strip():
                skipped += 1
    columns = np.array(rows, dtype=np.float64).reshape(-1, 4).T
    return LossHistory(columns[0].astype(np.int64), columns[1], columns[2], columns[3], skipped)


def truncate_log(path: Path, steps: int) -> int:
    """Keep only the lines of steps before `steps` (the state a checkpoint holds), so a
    resumed run's log has each step once; return how many lines were dropped."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    kept = [
        line for line in lines
        if line.endswith("\n") and (match := LOG_PATTERN.fullmatch(line.strip())) and int(match.group(1)) < steps
    ]
    with atomic_write(path) as partial:
        partial.write_text("".join(kept), encoding="utf-8")
    return len(lines) - len(kept)
