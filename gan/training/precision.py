"""The run's numeric precision: which Keras dtype policy, and where bfloat16 pays.

bfloat16 halves the bytes every convolution moves and, on hardware with bfloat16
arithmetic (AVX512-BF16 or AMX CPUs, NVIDIA GPUs from Ampere on, TPUs), doubles its
multiply rate; elsewhere it is emulated and slower than float32. `auto` picks it only
where it is native and the engine uses those units: on a CPU, TensorFlow's plain graph
(oneDNN) does, XLA's CPU compiler and JAX on a CPU do not. Weights, batch-norm
statistics, the last layers and the losses stay float32 under every policy (see
gan.training.networks), and docs/quality.md compares the two on the same runs.

Keras is imported only inside the functions that use it, so that importing this module
does not start TensorFlow before gan.runtime.set_up_tensorflow has quietened it (the
benchmarks import it first).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
AMPERE = (8, 0)  # the first NVIDIA compute capability with bfloat16 tensor cores


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The instruction-set flags the kernel reports (empty where there is no cpuinfo)."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return set()
    return {flag for line in lines if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def one_dnn_enabled() -> bool:
    """Whether TensorFlow's oneDNN CPU kernels are on (the default on x86 Linux)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


def _accelerators() -> tuple[list[tuple[int, int]], bool]:
    """Compute capabilities of the GPUs Keras' backend computes on, and whether it is a TPU."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return [
            tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)))
            for gpu in tf.config.list_physical_devices("GPU")
        ], False
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return [tuple(int(part) for part in str(device.compute_capability).split(".")[:2])
                for device in devices if device.platform == "gpu"], devices[0].platform == "tpu"
    return [], False


def bfloat16_pays(backend: str, jit_compile: bool, flags: set[str], gpu_capabilities: list[tuple[int, int]],
                  tpu: bool = False, one_dnn: bool = True) -> bool:
    """Whether the device that runs the step multiplies bfloat16 in hardware, through the
    kernels this engine calls (`one_dnn`: TensorFlow's oneDNN kernels are on)."""
    if tpu:
        return True
    if gpu_capabilities:
        return all(capability >= AMPERE for capability in gpu_capabilities)
    one_dnn_graph = backend == "tensorflow" and not jit_compile and one_dnn
    return one_dnn_graph and bool(set(CPU_BFLOAT16_FLAGS) & flags)


def resolve(requested: str, jit_compile: bool) -> str:
    """`requested`, with `auto` made concrete for this machine: mixed_bfloat16 where
    bfloat16_pays(), else off."""
    if requested != "auto":
        return requested
    import keras

    gpus, tpu = _accelerators()
    pays = bfloat16_pays(keras.backend.backend(), jit_compile, cpu_flags(), gpus, tpu, one_dnn_enabled())
    return "mixed_bfloat16" if pays else "off"


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build (or load) networks under `precision` (a concrete one of PRECISIONS), and only
    them: the FID network, say, must stay float32 whatever the run trains in."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if precision == "off" else precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
