"""Faces for the web page: a loaded generator turned into upscaled uint8 pictures by seed,
safely from many request threads at once.

The generator is a Keras model or an exported generator.onnx in gan.export's OnnxRunner,
which needs no TensorFlow (serve.py's light path). A Keras generator is traced once as a
graph for any batch size (a third faster per call than eager Keras on the 2-core CPU: 48
against 72 ms for 16 faces at 64x64x3). Calls take turns behind a lock: either runtime
already spreads one call over every core, so requests gain nothing from running the
model side by side, and the lock rules out any state a model keeps between calls.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from gan.export.runners import OnnxRunner
from gan.pictures.grids import to_uint8, upscale
from gan.pictures.latent import generate, interpolate, seed_noise

if TYPE_CHECKING:
    import keras

FACE_PIXELS = 128  # each face is shown at least this wide, by a whole-number pixel factor


class FaceMaker:
    """Seeds in, (N, H, W, C) uint8 faces out, each at least FACE_PIXELS wide."""

    def __init__(self, generator: "keras.Model | OnnxRunner"):
        self._model, self.noise_shape = inference(generator)
        probe = np.asarray(self._model(np.zeros((1, *self.noise_shape), np.float32)))  # the image shape, and a warm-up
        self.face_size = int(probe.shape[1])
        self.scale = math.ceil(FACE_PIXELS / self.face_size)
        self._lock = threading.Lock()

    def faces(self, seed: int, count: int) -> np.ndarray:
        """`count` faces of `seed`: the same seed, the same faces (as generate.py draws them)."""
        return self._draw(seed_noise(seed, count, self.noise_shape))

    def interpolation(self, start_seed: int, end_seed: int, steps: int) -> np.ndarray:
        """`steps` faces along the great circle from the first face of one seed to the other's."""
        start, end = (seed_noise(seed, 1, self.noise_shape)[0] for seed in (start_seed, end_seed))
        return self._draw(interpolate(start, end, steps))

    def _draw(self, noise: np.ndarray) -> np.ndarray:
        with self._lock:
            pixels = generate(self._call, noise)
        return upscale(to_uint8(pixels), self.scale)

    def _call(self, noise: np.ndarray, training: bool = False):
        # latent.generate's calling convention; both models are inference-only.
        return self._model(noise)


def inference(generator: "keras.Model | OnnxRunner") -> tuple[Callable[[np.ndarray], np.ndarray], tuple[int, ...]]:
    """(noise -> images, noise shape) for a Keras generator, traced once as a graph, or for
    an OnnxRunner, called as it is (TensorFlow is imported only for the Keras one)."""
    if isinstance(generator, OnnxRunner):
        return generator, generator.noise_shape
    import tensorflow as tf

    noise_shape = tuple(generator.input_shape[1:])
    spec = tf.TensorSpec((None, *noise_shape), tf.float32)
    return tf.function(lambda noise: generator(noise, training=False), input_signature=[spec]), noise_shape
