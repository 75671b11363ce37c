"""Proof that an exported file computes what the Keras generator computes.

A float32 export must match the float32 Keras generator to TOLERANCE, the largest
absolute difference on a fixed batch: the runtimes reorder float32 sums (fused kernels,
XNNPACK, oneDNN) but change nothing else, and on trained generators the largest
differences measured were a few 1e-6.

A quantised TFLite file cannot meet that by construction: rounding weights (and, in
int8, activations) moves a few pixels far while the images stay the same, so its
largest difference says little. Its limit is on the mean absolute difference instead,
QUANTIZED_TOLERANCES, set well above what quantisation cost a trained generator
(docs/export.md: float16 2.8e-5, int8 5e-3 on the digits) and far below a broken
file's (a lost layer or wrong weights moves the mean by a good part of the [-1, 1]
range). Both differences are recorded either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gan.errors import RunStopped
from gan.pictures.latent import seed_noise

TOLERANCE = 1e-4  # float32 exports: largest absolute difference
QUANTIZED_TOLERANCES = {"float16": 1e-3, "int8": 0.02}  # mean absolute difference; 0.02 is 1.3 uint8 levels
PARITY_SEED, PARITY_COUNT = 0, 5  # the noise `generate.py --seed 0 -n 5` draws


class ParityError(RunStopped):
    """An exported file's output differs from the Keras generator's beyond its limit:
    not the user's input but the export's failure, so `error: ...` and exit 1."""

    def __init__(self, problem: str):
        super().__init__(f"error: {problem}", exit_code=1)


@dataclass(frozen=True)
class Parity:
    """One format's check: both differences on the parity noise, the one that decides
    against its limit, and how long the runtime took to open the file."""

    max_abs_diff: float
    mean_abs_diff: float
    criterion: str  # "max_abs_diff" (float32) or "mean_abs_diff" (quantised)
    tolerance: float
    runtime: str
    load_seconds: float
    noise: str = f"seed {PARITY_SEED}, {PARITY_COUNT} vectors"

    @property
    def measured(self) -> float:
        return getattr(self, self.criterion)

    @property
    def passed(self) -> bool:
        return self.measured <= self.tolerance

    def as_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def limit_for(quantize: str | None) -> tuple[str, float]:
    """(criterion, limit): the largest difference to TOLERANCE for float32 exports, the
    mean difference to a quantised file's own limit otherwise."""
    return ("max_abs_diff", TOLERANCE) if quantize is None else ("mean_abs_diff", QUANTIZED_TOLERANCES[quantize])


def parity_noise(noise_shape: tuple[int, ...]) -> np.ndarray:
    return seed_noise(PARITY_SEED, PARITY_COUNT, noise_shape)


def _differences(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(largest, mean) absolute difference; infinite for a wrong shape or any NaN."""
    if actual.shape != expected.shape:
        return float("inf"), float("inf")
    difference = np.nan_to_num(np.abs(actual.astype(np.float64) - expected), nan=np.inf)
    return float(difference.max()), float(difference.mean())


def measure(load: Callable[[Path], Callable], path: Path, expected: np.ndarray, noise: np.ndarray,
            quantize: str | None = None) -> Parity:
    """Load `path` with `load` (a runner class of gan.export.runners), run `noise` and
    compare with `expected`, the float32 Keras generator's output for the same noise."""
    started = time.perf_counter()
    runner = load(path)
    load_seconds = time.perf_counter() - started
    largest, mean = _differences(np.asarray(runner(noise), dtype=np.float32), expected)
    criterion, limit = limit_for(quantize)
    return Parity(largest, mean, criterion, limit, getattr(runner, "runtime", type(runner).__name__), round(load_seconds, 4))
