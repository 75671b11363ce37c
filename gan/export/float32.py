"""A float32 copy of a generator, whatever precision it was trained in.

A generator trained under mixed_bfloat16 (the default on CPUs with bfloat16 units) keeps
float32 weights but computes in bfloat16, and a traced export would carry those casts
and 16-bit kernels that many runtimes lack (ONNX's exporter refuses them outright). The
copy has the same layers and the same weights under the float32 policy, so every export
computes in float32 and can be compared with one reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


def compute_precisions(generator: "keras.Model") -> list[str]:
    """The distinct dtype policies of the generator's layers, e.g. ['mixed_bfloat16', 'float32']."""
    return sorted({layer.dtype_policy.name for layer in generator.layers})


def _float32_layer(layer: "keras.layers.Layer") -> "keras.layers.Layer":
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})


def float32_copy(generator: "keras.Model") -> "keras.Model":
    """The same network rebuilt with every layer's policy float32, holding the same weights
    (mixed policies keep their variables in float32, so the copy loses nothing)."""
    import keras

    copy = keras.models.clone_model(generator, clone_function=_float32_layer)
    copy.set_weights(generator.get_weights())
    return copy
