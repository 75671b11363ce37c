"""FLOPs of the training step counted from the models' layer shapes, and device peaks.

Counting from the built models (not a constant) keeps the figure right at every image
size and channel count the project supports.
"""

from __future__ import annotations

import math
import time

import keras

# The counting rule, printed with every figure that uses it.
STEP_RULE = (
    "FLOPs = 2 x multiply-adds of the convolutions and dense layers, from their shapes "
    "(batch norm, activations, losses and Adam not counted); backward = 2 x forward "
    "(input and weight gradients); a step per image = D forward+backward on the real and "
    "on the fake image (6 D) + G forward for the fake (1 G) + the G update: G forward+backward "
    "(3 G) and D forward + input gradients only (2 D) = 4 G + 8 D"
)

# Dense tensor-core peaks (TFLOP/s) from NVIDIA's data sheets, by the step's compute
# dtype; float32 counts as TF32, which cuDNN and XLA use for float32 convolutions there.
PEAK_TFLOPS = {
    "H100 80GB HBM3": {"bfloat16": 989.4, "float16": 989.4, "float32": 494.7},  # H100 SXM
    "H200": {"bfloat16": 989.4, "float16": 989.4, "float32": 494.7},
}


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image through `model`'s convolutions and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            # every input pixel spreads a kernel x kernel x filters patch
            in_shape = layer.input.shape
            total += 2 * math.prod(in_shape[1:]) * math.prod(layer.kernel_size) * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            in_channels = layer.input.shape[-1]
            total += 2 * math.prod(layer.output.shape[1:]) * math.prod(layer.kernel_size) * in_channels
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def step_flops(generator: keras.Model, discriminator: keras.Model) -> int:
    """FLOPs per image of one training step, by STEP_RULE."""
    return 4 * forward_flops(generator) + 8 * forward_flops(discriminator)


def peak_tflops(device: str, compute_dtype: str) -> float | None:
    """The device's dense peak for that dtype, if the device is one we know."""
    for name, peaks in PEAK_TFLOPS.items():
        if name in device:
            return peaks.get(compute_dtype)
    return None


def measured_matmul_tflops(dtype: str, size: int = 2048, products: int = 8, trials: int = 3) -> float:
    """The best rate over `trials` of `products` size x size matrix products in `dtype` on
    Keras' default device: a practical peak where no data sheet figure is known (CPUs).

    A dense product is the most efficient work a device does, so a step's share of this
    rate says how much room its kernels leave.
    """
    from keras import ops

    left = ops.cast(keras.random.normal((size, size), seed=0), dtype)
    right = ops.cast(keras.random.normal((size, size), seed=1), dtype)
    ops.convert_to_numpy(ops.cast(ops.sum(ops.matmul(left, right)), "float32"))  # warm-up
    best = math.inf
    for _ in range(trials):
        start = time.perf_counter()
        results = [ops.matmul(left, right) for _ in range(products)]
        ops.convert_to_numpy(ops.cast(ops.sum(results[-1]), "float32"))  # waits for all: one device queue runs them in order
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * products / best / 1e12
