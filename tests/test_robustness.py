"""Never lose a run: resume, interruption, atomic and failed saves, divergence, bad data."""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import keras
import numpy as np
import pytest
from conftest import (
    PROJECT_ROOT,
    TINY_FLAGS,
    run_script,
    run_train_patched,
    write_images,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gan.data.decode import decode_or_reason
from gan.data.folders import load_image_folder
from gan.errors import UserError
from gan.runs.folder import RunDir, list_checkpoints
from gan.runs.lock import TrainingLock
from gan.runs.text_log import read_log
from gan.settings.config import TrainConfig
from gan.training import distribute
from gan.training.session import open_session

STEPS = ["--sample-every", "5", "--save-every", "10", "--seed", "11"]
SKIP_REASONS = ("too large", "not recognised as images", "corrupt or truncated")


def _train(data, out, *flags):
    return run_script("train.py", "--data", str(data), "--out", str(out), *TINY_FLAGS, *STEPS, *flags)


def _resume(out, *flags):
    return run_script("train.py", "--resume", str(out), *flags)


def _weights(run, step):
    run_dir = RunDir(run, 1)
    arrays = []
    for name in ("generator", "discriminator"):
        path = next(run_dir.models.glob(f"{name}_*{step}.keras"))
        model = keras.saving.load_model(path, safe_mode=True)
        arrays += [v.numpy() for v in model.variables] + [v.numpy() for v in model.optimizer.variables]
    return arrays


def _log_steps(run):
    return read_log(run / "training_log.txt").steps.tolist()


@pytest.fixture(scope="module")
def straight_run(data_folder, tmp_path_factory):
    """20 steps in one go: the reference a stopped and resumed run must match."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert _train(data_folder, out, "--steps", "20").returncode == 0
    return out


def _killed_before_its_first_save(run, parent):
    """What a run stopped before its first checkpoint leaves: its settings, no models."""
    unsaved = parent / "killed-before-its-first-save"
    (unsaved / "models").mkdir(parents=True)
    shutil.copy(run / "config.json", unsaved / "config.json")
    return unsaved


def test_resumed_run_ends_with_the_same_weights_and_log_as_a_straight_one(straight_run, data_folder, tmp_path):
    out = tmp_path / "run"
    assert _train(data_folder, out, "--steps", "10").returncode == 0
    # What a process killed after the checkpoint would leave: lines past it, one cut off.
    with open(out / "training_log.txt", "a") as log:
        log.write("Step: 10 Disc: real loss: 0.1 fake loss: 0.2 GAN loss: 0.3\nStep: 11 Disc: re")
    result = _resume(out, "--steps", "20")
    assert result.returncode == 0, result.stderr
    assert "Resuming" in result.stdout and "at step 10 of 20; dropped 2 log lines" in result.stdout
    assert (out / "training_log.txt").read_text() == (straight_run / "training_log.txt").read_text()
    # Exact on the CPU: every weight, batch-norm average and optimizer moment is bit-identical.
    for resumed, straight in zip(_weights(out, 20), _weights(straight_run, 20), strict=True):
        np.testing.assert_array_equal(resumed, straight)


def test_resume_refuses_changed_settings_and_a_finished_run(straight_run):
    result = _resume(straight_run, "--batch-size", "8", "--lr-g", "0.1")
    assert result.returncode == 2
    assert re.fullmatch(
        r"error: a resumed run keeps its settings; only --steps, .* may change; "
        r"refused: --batch-size 8 \(the run has 4\); --lr-g 0.1 \(the run has 0.00015\)\n",
        result.stderr,
    )
    result = _resume(straight_run)
    assert result.returncode == 2 and "already ran 20 steps; pass --steps" in result.stderr
    result = _resume(straight_run.parent / "nothing")
    assert result.returncode == 2 and "not a run folder" in result.stderr
    result = _resume(_killed_before_its_first_save(straight_run, straight_run.parent))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "holds no complete checkpoint to resume from" in result.stderr and "a new --out" in result.stderr


@contextlib.contextmanager
def _long_run(data, out, image_size="16"):
    """A 100,000-step training in its own process, killed however the test ends: a failed
    assertion must not leave it running, taking the other tests' cores."""
    flags = [*TINY_FLAGS, "--steps", "100000", "--save-every", "1000", "--sample-every", "1000", "--seed", "5"]
    flags[flags.index("--image-size") + 1] = image_size
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "train.py"), "--data", str(data), "--out", str(out), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _wait_for_steps(out, count, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        log = out / "training_log.txt"
        if log.exists() and log.read_text().count("\n") >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {count} steps: {process.poll()} {process.stderr.read() if process.poll() is not None else ''}")


def test_a_resume_of_a_run_in_training_is_refused_and_cuts_nothing(data_folder, tmp_path):
    out = tmp_path / "run"
    with _long_run(data_folder, out) as process:
        _wait_for_steps(out, 3, process)
        result = _resume(out)
        lines_after = (out / "training_log.txt").read_text().count("\n")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"is being trained now by another process (pid {process.pid})" in result.stderr
        _wait_for_steps(out, lines_after + 2, process)  # the first training goes on
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)
    steps = _log_steps(out)
    assert len(steps) > lines_after and steps == list(range(len(steps))), "the log was cut or interleaved"
    TrainingLock.take(out).release()  # the lock ended with the process


def test_a_session_that_fails_to_open_releases_its_lock(straight_run, tmp_path):
    unsaved = _killed_before_its_first_save(straight_run, tmp_path)
    with pytest.raises(UserError, match="holds no complete checkpoint"):
        open_session(TrainConfig.load(unsaved / "config.json"), unsaved, distribute.Distribution())
    TrainingLock.take(unsaved).release()  # in this same process: a leaked handle would still hold it


class _ByteLocks:
    """Windows' msvcrt.locking as this test needs it: one byte at the descriptor's position,
    held per file, refused with OSError to any other descriptor, readable bytes elsewhere."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self):
        self.held = {}

    def locking(self, fd, mode, nbytes):
        assert nbytes == 1
        key = (os.fstat(fd).st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise PermissionError(13, "Permission denied")
            self.held[key] = fd
        else:
            assert self.held.pop(key) == fd, "unlocked a byte this descriptor did not lock"


def test_on_windows_a_byte_past_the_process_id_is_locked(tmp_path, monkeypatch):
    from gan.runs import lock

    byte_locks = _ByteLocks()
    monkeypatch.setattr(lock, "fcntl", None)
    monkeypatch.setattr(lock, "msvcrt", byte_locks, raising=False)
    held = TrainingLock.take(tmp_path)
    (locked_file, locked_byte), = byte_locks.held
    assert locked_file == (tmp_path / lock.LOCK_FILE).stat().st_ino
    assert locked_byte > (tmp_path / lock.LOCK_FILE).stat().st_size  # the id stays readable
    with pytest.raises(UserError, match=f"being trained now by another process \\(pid {os.getpid()}\\)"):
        TrainingLock.take(tmp_path)
    held.release()
    assert not byte_locks.held
    TrainingLock.take(tmp_path).release()
    assert not byte_locks.held


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_saves_a_checkpoint_and_the_run_resumes_from_it(data_folder, tmp_path, signum):
    out = tmp_path / "run"
    with _long_run(data_folder, out) as process:
        _wait_for_steps(out, 5, process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert f"Resume with: python train.py --resume {out}" in stderr and "Traceback" not in stderr
    stopped_at = list_checkpoints(RunDir(out, 1))[-1].step
    assert _log_steps(out) == list(range(stopped_at)), "the log matches the checkpoint"

    result = _resume(out, "--steps", str(stopped_at + 3))
    assert result.returncode == 0, result.stderr
    assert _log_steps(out) == list(range(stopped_at + 3))


def test_a_second_ctrl_c_quits_at_once(data_folder, tmp_path):
    out = tmp_path / "run"
    with _long_run(data_folder, out, image_size="64") as process:  # saving 64x64 networks takes a while
        _wait_for_steps(out, 2, process)
        process.send_signal(signal.SIGINT)
        for line in iter(process.stderr.readline, ""):
            if "saving a checkpoint after this step" in line:
                break
        else:
            raise AssertionError("the run ended without announcing its checkpoint")
        process.send_signal(signal.SIGINT)  # lands while the checkpoint is being written
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGINT, stderr
    assert "Stopped by" not in stderr and "Traceback" not in stderr


KILL_DURING_SAVE = """
import os, pathlib
real_replace = pathlib.Path.replace
def replace_then_die(self, target):
    # Die between the networks' renames and the state file's: the nastiest moment.
    if pathlib.Path(target).name.startswith("state_20"):
        os._exit(137)
    return real_replace(self, target)
pathlib.Path.replace = replace_then_die
"""


def test_a_kill_in_the_middle_of_a_save_leaves_the_previous_checkpoint(straight_run, data_folder, tmp_path):
    out = tmp_path / "run"
    flags = ["--data", str(data_folder), "--out", str(out), *TINY_FLAGS, *STEPS, "--steps", "25"]
    assert run_train_patched(KILL_DURING_SAVE, *flags).returncode == 137
    assert (out / "models" / "generator_20.keras").exists(), "the kill came after the networks landed"
    assert [c.step for c in list_checkpoints(RunDir(out, 1))] == [10]
    result = _resume(out, "--steps", "20")
    assert result.returncode == 0, result.stderr
    assert "at step 10 of 20" in result.stdout
    for resumed, straight in zip(_weights(out, 20), _weights(straight_run, 20), strict=True):
        np.testing.assert_array_equal(resumed, straight)


DISK_FULL_AT_20 = """
import errno, keras
real_save = keras.Model.save
def save_or_fail(self, path, *args, **kwargs):
    if "_20" in str(path):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_save(self, path, *args, **kwargs)
keras.Model.save = save_or_fail
"""


def test_a_failed_save_stops_the_run_and_keeps_the_previous_checkpoint(data_folder, tmp_path):
    out = tmp_path / "run"
    flags = ["--data", str(data_folder), "--out", str(out), *TINY_FLAGS, *STEPS, "--steps", "30"]
    result = run_train_patched(DISK_FULL_AT_20, *flags)
    assert result.returncode == 1
    assert re.search(r"error: could not save the checkpoint of step 20: \[Errno 28\] No space left on device\. "
                     r"The previous checkpoint \(step 10\) is intact", result.stderr)
    assert "Traceback" not in result.stderr
    assert [c.step for c in list_checkpoints(RunDir(out, 1))] == [10]
    assert _resume(out, "--steps", "12").returncode == 0


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(data_folder, tmp_path):
    out = tmp_path / "run"
    assert _train(data_folder, out, "--steps", "20").returncode == 0
    newest = out / "models" / "generator_20.keras"
    newest.write_bytes(newest.read_bytes()[:300])
    result = _resume(out, "--steps", "22")
    assert result.returncode == 0, result.stderr
    assert "warning: checkpoint 20 is unreadable" in result.stderr and "at step 10 of 22" in result.stdout


def test_keep_rotates_checkpoints(data_folder, tmp_path):
    assert _train(data_folder, tmp_path / "two", "--steps", "30", "--keep", "2").returncode == 0
    assert [c.step for c in list_checkpoints(RunDir(tmp_path / "two", 1))] == [20, 30]
    assert sorted(p.name for p in (tmp_path / "two" / "models").iterdir() if p.is_file()) == [
        "discriminator_20.keras", "discriminator_30.keras", "generator_20.keras", "generator_30.keras",
        "state_20.json", "state_30.json",
    ]


def test_a_non_finite_loss_stops_the_run_after_saving_nothing_new(data_folder, tmp_path):
    out = tmp_path / "run"
    result = _train(data_folder, out, "--steps", "30", "--save-every", "1", "--lr-g", "1e6")
    assert result.returncode == 1
    match = re.search(r"error: a loss is not finite at step (\d+) \(.*nan.*\); stopped without saving; "
                      r"the newest checkpoint is step (\d+)\. Resume from it with: .* --on-nan skip", result.stderr)
    assert match and match.group(1) == match.group(2), result.stderr
    assert list_checkpoints(RunDir(out, 1))[-1].step == int(match.group(2))
    last = json.loads((out / "health.jsonl").read_text().splitlines()[-1])
    assert last["step"] == int(match.group(1)) and last["verdict"] == "diverging" and "remedy" in last


def test_skip_undoes_a_non_finite_step_whole():
    from gan.training.networks import get_disc_normal, get_gen_normal
    from gan.training.step import DCGAN

    keras.utils.set_random_seed(0)
    model = DCGAN(get_gen_normal((1, 1, 8), 16, 1), get_disc_normal((16, 16, 1)), undo_non_finite=True)
    step = model.compiled_train_step(jit_compile=False)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
    poisoned = images.copy()
    poisoned[0, 0, 0, 0] = np.nan
    state = [v.numpy().copy() for v in model.trained_variables]
    figures = step(poisoned)
    assert bool(figures["undone"]) and not np.isfinite(float(figures["d_real_loss"]))
    assert all(np.array_equal(before, v.numpy()) for before, v in zip(state, model.trained_variables))
    figures = step(images)
    assert not bool(figures["undone"]) and model.generator.optimizer.iterations.numpy() == 1


def test_skip_stops_a_run_that_only_diverges(data_folder, tmp_path):
    out = tmp_path / "run"
    result = _train(data_folder, out, "--steps", "40", "--save-every", "5", "--lr-g", "1e6", "--on-nan", "skip")
    assert result.returncode == 1
    assert "error: the last 10 steps all had non-finite losses" in result.stderr
    assert result.stdout.count("the step's updates were undone") == 10


# Bad data

def _png_header_only(width, height):
    """A PNG that claims width x height pixels and holds almost none of them."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _messy_folder(folder):
    write_images(folder / "good", 6, size=24)
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(jpeg, "JPEG")
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 3])
    (folder / "zero.png").write_bytes(b"")
    (folder / "text.png").write_text("<html>not a picture</html>")
    (folder / "huge.png").write_bytes(_png_header_only(10_000, 10_000))
    (folder / "huger.png").write_bytes(_png_header_only(20_000, 20_000))
    Image.new("RGB", (1, 1), "blue").save(folder / "tiny.png")
    Image.new("CMYK", (30, 30), (0, 255, 0, 0)).save(folder / "cmyk.jpg")
    Image.fromarray(np.full((20, 20), 40000, np.uint16)).save(folder / "deep.png")
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.save(folder / "palette.png", transparency=0)
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue")]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:])
    os.symlink(folder, folder / "good" / "loop")
    return folder


def test_a_messy_folder_trains_on_the_good_images_and_reports_one_summary(tmp_path):
    folder = _messy_folder(tmp_path / "messy")
    image_set = load_image_folder(folder, 16, 3)
    assert len(image_set.images) == 12  # 6 good + 1x1, CMYK, 16-bit, palette, GIF, WebP
    assert dict(image_set.skipped) == {"corrupt or truncated": 1, "not recognised as images": 2, "too large": 2}
    result = _train(folder, tmp_path / "run", "--steps", "3")
    assert result.returncode == 0, result.stderr
    skipped = "warning: 5 of 17 image files skipped (1 corrupt or truncated, 2 not recognised as images, 2 too large)"
    lines = result.stderr.splitlines()
    assert lines.count(skipped) == 1 and all(line.startswith("warning: ") for line in lines), result.stderr
    # The rest are the pre-flight checklist's: the folder's flat pictures and its few images.
    assert any("nearly one flat colour" in line for line in lines) and any("only 12 images" in line for line in lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.binary(max_size=2048),
    prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 "]),
    extension=st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".webp"]),
)
def test_random_bytes_end_in_a_reason_or_an_image_never_a_hang(tmp_path, payload, prefix, extension):
    path = tmp_path / f"fuzz{extension}"
    path.write_bytes(prefix + payload)
    result = decode_or_reason(path, 16, 3)
    assert result in SKIP_REASONS if isinstance(result, str) else (result.shape == (16, 16, 3) and result.dtype == np.uint8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]),
    extension=st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".webp"]),
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_every_image_pillow_writes_is_read(tmp_path, mode, extension, size, channels, seed):
    """The loader skips what it cannot read with a catch-all, so a bug of ours in some
    mode would silently skip good images: every mode and format Pillow itself writes
    must come back as pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    picture = Image.fromarray(pixels, "RGBA").convert(mode)
    path = tmp_path / f"image{extension}"
    try:
        picture.save(path)
    except (OSError, ValueError, KeyError):  # a mode this format cannot hold
        path.unlink(missing_ok=True)
        return
    result = decode_or_reason(path, 16, channels)
    assert not isinstance(result, str), f"{mode} {extension}: {result}"
    assert result.shape == (16, 16, channels) and result.dtype == np.uint8


def test_a_decoder_failing_in_an_unforeseen_way_skips_only_that_file(tmp_path, monkeypatch):
    from gan.data import decode

    def unforeseen(path, image_size, channels):
        raise ZeroDivisionError("a decoder bug")

    monkeypatch.setattr(decode, "decode_image", unforeseen)
    assert decode.decode_or_reason(tmp_path / "any.png", 16, 3) == "corrupt or truncated"


