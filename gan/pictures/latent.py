"""Playing with a trained generator's latent space: seeded samples, truncation,
interpolation between two seeds, and the seeds' vector arithmetic.

A seed always names the same noise: seed s gives the vectors of
`numpy.random.default_rng(s)`, so sample 0 of seed s is the endpoint of an interpolation
from or to s, and a face seen once can be found again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.errors import UserError

if TYPE_CHECKING:
    import keras

BATCH = 64  # images per generator call: bounded memory for any -n
MIN_TRUNCATION = 0.1  # keeps 8% of the draws; near 0 the redrawing of the rest would never end


def load_generator(path: Path) -> "keras.Model":
    """A saved generator, loaded with safe_mode on (no arbitrary code from the file)."""
    import keras

    if Path(path).suffix != ".keras":
        raise UserError(f"{path} is not a Keras 3 model file (.keras)")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for a bad file; the user needs one line
        raise UserError(f"could not load a Keras model from {path}: {str(error).splitlines()[0]}") from None
    output_shape = getattr(model, "output_shape", None)
    if not (isinstance(output_shape, tuple) and len(output_shape) == 4 and output_shape[-1] in (1, 3)):
        raise UserError(f"{path} is not a generator: it outputs {output_shape}, not images (N, H, W, 1 or 3) "
                        "(a discriminator_NNNN.keras?)")
    return model


def seed_noise(seed: int, count: int, noise_shape: tuple[int, ...], truncation: float | None = None) -> np.ndarray:
    """`count` noise vectors for `seed`; with `truncation`, values beyond ±truncation are
    redrawn (the truncation trick: less variety, fewer failed images)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, *noise_shape), dtype=np.float32)
    if truncation is not None:
        while (outside := np.abs(noise) > truncation).any():
            noise[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
    return noise


def interpolate(start: np.ndarray, end: np.ndarray, steps: int, spherical: bool = True) -> np.ndarray:
    """`steps` vectors from `start` to `end` inclusive, along the great circle (slerp,
    which keeps the norm typical of Gaussian noise) or the straight line (lerp)."""
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float64).reshape(-1, *([1] * start.ndim))
    a, b = start.astype(np.float64), end.astype(np.float64)
    if spherical:
        cosine = np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b))
        angle = np.arccos(np.clip(cosine, -1.0, 1.0))
        if angle > 1e-6:
            path = (np.sin((1 - weights) * angle) * a + np.sin(weights * angle) * b) / np.sin(angle)
            return path.astype(np.float32)
    return ((1 - weights) * a + weights * b).astype(np.float32)


def generate(generator: "keras.Model", noise: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] for `noise`, in batches, in inference mode."""
    outputs = [np.asarray(generator(noise[i : i + BATCH], training=False)) for i in range(0, len(noise), BATCH)]
    return np.concatenate(outputs)
