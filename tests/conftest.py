"""Shared fixtures: tiny settings, tiny image folders, and a way to run the real CLIs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan.runtime import set_up_tensorflow
from gan.settings.config import TrainConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
set_up_tensorflow()
MAX_WORKERS = 4  # pytest-xdist processes: each test's subprocesses hold about 1 GB of TensorFlow


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pytest.ini): one worker per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))

# The smallest settings the networks allow: 16x16 grayscale, batch 4, 8 noise values;
# float32, so that the runs compute alike on machines with and without bfloat16 units.
TINY = {"image_size": 16, "channels": 1, "batch_size": 4, "latent_dim": 8, "grid_images": 4, "mixed_precision": "off"}
TINY_FLAGS = [part for name, value in TINY.items() for part in (f"--{name.replace('_', '-')}", str(value))]


def tiny_config(data: Path, out: Path, **settings) -> TrainConfig:
    """The tiny settings as a configuration, for in-process runs; `settings` add or override."""
    return TrainConfig(data=str(data), out=str(out), **{**TINY, **settings})


# The JAX engine is optional for users (requirements-jax.txt); requirements-dev.txt installs it.
needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="needs JAX: pip install -r requirements-jax.txt (the dev file includes it)"
)
# A whole run in a few seconds: 25 steps, grids at 0, 10, 20, saves at 10, 20, 25.
TINY_RUN_FLAGS = [*TINY_FLAGS, "--steps", "25", "--sample-every", "10", "--save-every", "10"]


def write_images(folder: Path, count: int, size: int = 20, seed: int = 0) -> list[Path]:
    """Random RGB PNGs spread over two sub-folders, so loading has to search in depth."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        path = folder / f"part{index % 2}" / "deeper" / f"{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, 12)
    return folder


def run_script(script: str, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a top-level script of the project as a user would, in a fresh interpreter."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / script), *args],
        cwd=cwd or PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def data_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_images(folder, 16)
    return folder


@pytest.fixture(scope="session")
def tiny_run(data_folder, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One real `train.py` run, shared by the tests that read its files (do not modify them)."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_script("train.py", "--data", str(data_folder), "--out", str(out), "--seed", "3", *TINY_RUN_FLAGS)
    assert result.returncode == 0, result.stderr
    return out, result


def run_train_patched(patch: str, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run train.py in a fresh interpreter after executing `patch` (Python source), to
    inject a failure (a kill mid-save, a full disk) into a real run; `env` adds variables."""
    launcher = f"{patch}\nimport runpy, sys\nsys.argv = ['train.py', *{list(args)!r}]\nrunpy.run_path({str(PROJECT_ROOT / 'train.py')!r}, run_name='__main__')\n"
    return subprocess.run(
        [sys.executable, "-c", launcher],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(PROJECT_ROOT), **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
