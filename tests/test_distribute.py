"""--distribute on the CPU: TensorFlow's MirroredStrategy over the CPU split into two
logical devices, MultiWorkerMirroredStrategy over two local worker processes, and JAX's
DataParallel over two host devices. Each checks that the replicas end with identical
variables and finite losses; mirrored and JAX also that two replicas compute what one
device computes on the whole batch (gradients averaged, batch norm over the global
batch).

The runs need processes of their own (tests/distributed_runs.py). MirroredStrategy's
replica threads hand over to each other many times while a step is traced, and slow
down several-fold when other tests' processes compete for the cores (pytest-xdist may
run these beside anything else): hence TIMEOUT's margin.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan import cli
from gan.runs.text_log import read_log
from gan.settings.config import TrainConfig
from gan.training import distribute
from tests.conftest import PROJECT_ROOT, TINY_FLAGS, needs_jax, write_images

RUNS = PROJECT_ROOT / "tests" / "distributed_runs.py"
TIMEOUT = 240
INDIVISIBLE = "--batch-size 3 must be divisible by the 2 replicas of --distribute mirrored"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(out: Path, mode: str, *args: str, **env: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(PROJECT_ROOT), **env)
    with open(out / "stdout.txt", "w") as stdout, open(out / "stderr.txt", "w") as stderr:
        return subprocess.Popen([sys.executable, str(RUNS), str(out), mode, *args], cwd=PROJECT_ROOT,
                                env=environment, stdout=stdout, stderr=stderr)


def _finish(out: Path, process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, (out / "stderr.txt").read_text()[-3000:]


def _assert_finite_log(run: Path, steps: int) -> None:
    history = read_log(run / "training_log.txt")
    assert list(history.steps) == list(range(steps)) and not history.skipped_lines
    assert np.all(np.isfinite([history.d_real_loss, history.d_fake_loss, history.g_loss]))


def _assert_copies_identical(path: Path, copies: int) -> None:
    saved = np.load(path)
    assert len(saved.files) > 50
    for key in saved.files:
        assert len(saved[key]) == copies
        for copy in saved[key][1:]:
            np.testing.assert_array_equal(copy, saved[key][0], err_msg=f"state variable {key}")


def _assert_two_replicas_equal_one_device(path: Path) -> None:
    saved = np.load(path)
    np.testing.assert_allclose(saved["two:losses"], saved["one:losses"], rtol=1e-4)
    compared = [key.removeprefix("one:") for key in saved.files if key.startswith("one:") and key != "one:losses"]
    assert len(compared) > 20
    for key in compared:
        one, two = saved[f"one:{key}"], saved[f"two:{key}"]
        # Relative to the variable's scale: a doubled gradient would double Adam's moments.
        assert np.max(np.abs(two - one)) <= 1e-2 * np.max(np.abs(one)), key


def _train_flags(folder: Path, mode: str) -> list[str]:
    """A two-step tiny run of train.py on 16 images, in FOLDER/run."""
    write_images(folder / "images", 16)
    return ["--data", str(folder / "images"), "--out", str(folder / "run"), "--seed", "1", *TINY_FLAGS,
            "--steps", "2", "--save-every", "2", "--sample-every", "1", "--distribute", mode]


def test_mirrored_replicas_stay_identical_and_compute_what_one_device_does(tmp_path):
    _finish(tmp_path, _launch(tmp_path, "mirrored"))
    _assert_two_replicas_equal_one_device(tmp_path / "equivalence.npz")
    _assert_copies_identical(tmp_path / "copies.npz", copies=2)
    overflow = np.load(tmp_path / "overflow.npz")  # the step skipped on both replicas, the scale halved
    np.testing.assert_array_equal(overflow["weight"], np.ones((2, 3)))
    assert overflow["scale"] == overflow["initial_scale"] / 2
    assert (tmp_path / "refusals.txt").read_text() == INDIVISIBLE + "\n"


@needs_jax
def test_jax_data_parallel_keeps_the_weights_replicated_on_both_devices(tmp_path):
    flags = _train_flags(tmp_path, "mirrored")
    _finish(tmp_path, _launch(tmp_path, "jax", *flags, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
                              XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    _assert_finite_log(tmp_path / "run", steps=2)
    _assert_copies_identical(tmp_path / "copies.npz", copies=2)
    refusals = (tmp_path / "refusals.txt").read_text().splitlines()
    assert refusals[0] == INDIVISIBLE and refusals[1].startswith("--distribute multiworker is TensorFlow-only")


def test_multiworker_workers_end_identical_and_only_the_chief_writes(tmp_path):
    flags = _train_flags(tmp_path, "multiworker")
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    workers = [tmp_path / "worker0", tmp_path / "worker1"]
    (tmp_path / "scratch").mkdir()  # where a killed worker leaves its scratch folder
    launched = [
        _launch(out, "worker", *flags, TMPDIR=str(tmp_path / "scratch"),
                TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        for index, out in enumerate(workers)
    ]
    try:
        for out, process in zip(workers, launched):
            _finish(out, process)
    finally:
        for process in launched:
            process.kill()
    _assert_finite_log(tmp_path / "run", steps=2)
    chief, other = np.load(workers[0] / "copies.npz"), np.load(workers[1] / "copies.npz")
    assert chief.files == other.files and len(chief.files) > 50
    for key in chief.files:
        np.testing.assert_array_equal(chief[key], other[key], err_msg=f"state variable {key}")
    assert "is not the chief" not in (workers[0] / "stdout.txt").read_text()
    scratch = re.search(r"worker 1 is not the chief: its files go to (\S+), removed", (workers[1] / "stdout.txt").read_text())
    assert scratch and Path(scratch.group(1)).is_relative_to(tmp_path / "scratch")
    assert not any((tmp_path / "scratch").iterdir())


def test_distribute_may_change_on_resume():
    resumed = TrainConfig(data="x", seed=1).resumed_with({"distribute": "multiworker", "steps": 20})
    assert (resumed.distribute, resumed.steps) == ("multiworker", 20)


@pytest.mark.parametrize(
    "change, environment, message",
    [
        ({"distribute": "horovod"}, {}, "--distribute must be one of off, mirrored, multiworker; received 'horovod'"),
        ({"distribute": "multiworker"}, {}, "--distribute multiworker needs --seed N"),
        ({"distribute": "multiworker", "seed": 1}, {}, "--distribute multiworker needs TF_CONFIG"),
        ({"distribute": "multiworker", "seed": 1}, {"TF_CONFIG": "{\"cluster\": {}}"}, "TF_CONFIG is not a valid cluster and task"),
        ({"distribute": "mirrored", "xla": True}, {}, "--xla does not combine with --distribute mirrored on TensorFlow"),
    ],
)
def test_bad_settings_are_one_line_errors(monkeypatch, capsys, change, environment, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = TrainConfig(data="x", **change)

    def start() -> None:
        config.validate()
        distribute.start(config)

    assert cli.run(start) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1
