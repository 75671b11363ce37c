"""TensorFlow start-up: quiet C++ logs, GPU memory growth, and which device runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path


@contextlib.contextmanager
def _stderr_silenced():
    """Send file descriptor 2 to /dev/null: TF's C++ start-up banners bypass Python."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def set_up_tensorflow() -> str:
    """Import TensorFlow, let each GPU's memory grow, and describe the device to use.

    The import and device discovery run with C++ logging off and stderr muted, which
    hides the oneDNN, CUDA-probe and CPU-feature notices a CPU-only machine prints on
    every start. Python errors still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
    if not gpus:
        return "CPU (no GPU visible to TensorFlow)"
    names = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    return f"GPU: {names}"


def nvidia_gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU, whatever the engine can see of it."""
    driver = Path("/proc/driver/nvidia/gpus")
    return (driver.is_dir() and any(driver.iterdir())) or shutil.which("nvidia-smi") is not None


def engine_device() -> tuple[str, bool]:
    """What the Keras backend computes on, and whether that is a GPU."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        first = jax.devices()[0]
        return f"JAX on {first.platform.upper()} ({first.device_kind})", first.platform == "gpu"
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return (f"TensorFlow on {len(gpus)} GPU(s)", True) if gpus else ("TensorFlow on the CPU", False)


def unseen_gpu_advice(backend: str) -> str:
    """How to let the engine see the GPU it does not."""
    if backend == "jax":
        return "an NVIDIA GPU is present but JAX computes on the CPU: pip install 'jax[cuda12]==0.10.2'"
    return ("an NVIDIA GPU is present but TensorFlow cannot see it (a CPU-only build, or no CUDA libraries): "
            "pip install 'tensorflow[and-cuda]==2.21.0'")
