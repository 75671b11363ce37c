"""Which machine and device a benchmark ran on, for the line printed above its figures.

Figures from different machines are not comparable, so every bench script names the
CPU, the device that ran the step and the software versions alongside its numbers.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1-minute load: on a shared machine, what else competed for the cores."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def start_backend() -> str:
    """Start Keras' backend quietly and describe the device it computes on.

    The backend is KERAS_BACKEND's (TensorFlow when unset). TensorFlow is imported
    through gan.runtime (quiet logs, GPU memory growth); on JAX the first device is
    named, since TensorFlow may not be installed at all there.
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "tensorflow":
        from gan.runtime import set_up_tensorflow

        device = set_up_tensorflow()
        import tensorflow as tf

        versions = f"TF {tf.__version__}"
    elif backend == "jax":
        import jax

        first = jax.devices()[0]
        device = f"{first.platform.upper()}: {first.device_kind}"
        versions = f"JAX {jax.__version__}"
    else:
        device, versions = f"the {backend} backend's default device", backend
    import keras

    return (
        f"machine: {cpu_name()}, {os.cpu_count()} cores, load {load_average()}; {device}; "
        f"{versions}, Keras {keras.__version__} ({keras.backend.backend()} backend)"
    )
