"""`python train.py` as a user runs it: files at the right steps, reproducibility, bad input."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import PROJECT_ROOT, TINY_FLAGS, TINY_RUN_FLAGS, run_script, write_images
from PIL import Image

from gan.pictures.grids import make_grid, to_uint8

LOG_LINE = re.compile(r"^Step: (\d+) Disc: real loss: \d+\.\d{6} fake loss: \d+\.\d{6} GAN loss: \d+\.\d{6}$")


def test_log_has_one_recipe_line_per_step(tiny_run):
    out, _ = tiny_run
    lines = (out / "training_log.txt").read_text().splitlines()
    assert len(lines) == 25
    assert [int(LOG_LINE.match(line).group(1)) for line in lines] == list(range(25))


def test_grids_and_models_appear_at_their_steps(tiny_run):
    out, _ = tiny_run
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images == [
        "00_image.png", "00fixed_image.png", "10_image.png", "10fixed_image.png",
        "20_image.png", "20fixed_image.png", "25fixed_image.png",
    ]
    for name in images:
        with Image.open(out / "images" / name) as grid:
            assert grid.size == (34, 34) and grid.mode == "L"  # 2x2 tiles of 16 + a 2-pixel gap
    assert sorted(p.name for p in (out / "models").glob("*.keras")) == [
        f"{net}_{step}.keras" for net in ("discriminator", "generator") for step in (10, 20, 25)
    ]
    assert not any((out / "models" / ".partial").iterdir()), "a temporary save was left behind"
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_tensorboard_gets_every_step_and_every_grid(tiny_run):
    out, _ = tiny_run
    steps_by_tag = {}
    for path in (out / "tensorboard").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                steps_by_tag.setdefault(value.tag, []).append(event.step)
    for tag in ("loss/discriminator_real", "loss/discriminator_fake", "loss/gan", "discriminator/D(x)", "discriminator/D(G(z))"):
        assert steps_by_tag[tag] == list(range(25)), tag
    assert steps_by_tag["samples"] == [0, 10, 20]
    assert steps_by_tag["fixed_noise"] == [0, 10, 20, 25]


def test_saved_generator_redraws_the_fixed_grid(tiny_run):
    out, _ = tiny_run
    generator = keras.saving.load_model(out / "models" / "generator_25.keras", safe_mode=True)
    fixed_noise = np.load(out / "fixed_noise.npy")
    assert fixed_noise.shape == (4, 1, 1, 8)
    redrawn = make_grid(to_uint8(generator(fixed_noise, training=False)))
    saved = np.asarray(Image.open(out / "images" / "25fixed_image.png"))
    assert np.abs(redrawn[..., 0].astype(int) - saved).max() <= 1
    earlier = keras.saving.load_model(out / "models" / "generator_10.keras", safe_mode=True)
    assert not np.allclose(earlier.get_weights()[0], generator.get_weights()[0])


def test_config_records_every_setting(tiny_run, data_folder):
    out, result = tiny_run
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == str(data_folder) and config["out"] == str(out)
    assert (config["steps"], config["image_size"], config["channels"], config["seed"]) == (25, 16, 1, 3)
    assert (config["lr_g"], config["lr_d"], config["init"]) == (1.5e-4, 2e-4, "glorot")
    assert "Device: CPU" in result.stdout
    # No TensorFlow start-up noise; only the checklist's true remarks on the 16 random colour test images.
    assert [line[:25] for line in result.stderr.splitlines()] == ["warning: 100% of a sample", "warning: only 16 images, "]


def test_console_prints_mean_losses_every_save_interval(tiny_run):
    _, result = tiny_run
    intervals = re.findall(r"step (\d+)/25: mean over the last (\d+) steps: d_real_loss [\d.]+ "
                           r"d_fake_loss [\d.]+ g_loss [\d.]+ \(\d+ img/s\)", result.stdout)
    assert intervals == [("10", "10"), ("20", "10"), ("25", "5")]


def test_same_seed_repeats_the_log_and_another_seed_does_not(tiny_run, data_folder, tmp_path):
    out, _ = tiny_run
    again = run_script("train.py", "--data", str(data_folder), "--out", str(tmp_path / "again"), "--seed", "3", *TINY_RUN_FLAGS)
    other = run_script("train.py", "--data", str(data_folder), "--out", str(tmp_path / "other"), "--seed", "4",
                       *TINY_RUN_FLAGS, "--steps", "2")
    assert again.returncode == other.returncode == 0
    log = (out / "training_log.txt").read_text()
    assert (tmp_path / "again" / "training_log.txt").read_text() == log
    other_log = (tmp_path / "other" / "training_log.txt").read_text().splitlines()
    assert len(other_log) == 2 and other_log != log.splitlines()[:2]


def test_default_run_trains_on_the_embedded_digits(tmp_path):
    result = run_script("train.py", "--steps", "2", "--sample-every", "1", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    data_line = next(line for line in result.stdout.splitlines() if line.startswith("Data: "))
    assert data_line.startswith("Data: 5000 images from") and "flipped" not in data_line
    with Image.open(tmp_path / "demo" / "images" / "1_image.png") as grid:
        assert grid.mode == "L" and grid.size == (8 * 32 + 7 * 2, 4 * 32 + 3 * 2)  # batch 32: 8x4
    assert json.loads((tmp_path / "demo" / "config.json").read_text())["image_size"] == 32


def test_a_mirrored_run_says_so_on_its_data_line(data_folder, tmp_path):
    result = run_script("train.py", "--data", str(data_folder), "--out", str(tmp_path / "run"), *TINY_RUN_FLAGS,
                        "--steps", "1", "--mirror")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Data: .*, each also flipped left to right \(--mirror\)$", result.stdout, re.M), result.stdout


def _assert_one_line_error(result, pattern):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(f"error: {pattern}", lines[0]), result.stderr


@pytest.mark.parametrize(
    "flags, pattern",
    [
        (["--steps", "0"], "--steps must be a positive integer; received 0"),
        (["--steps", "-5"], "--steps must be a positive integer; received -5"),
        (["--batch-size", "0"], "--batch-size must be a positive integer; received 0"),
        (["--steps", "ten"], "argument --steps: invalid int value: 'ten'.*"),
        (["--colour", "red"], "unrecognized arguments: --colour red.*"),
    ],
)
def test_bad_flags_are_one_line_errors(flags, pattern, tmp_path):
    _assert_one_line_error(run_script("train.py", "--out", str(tmp_path / "run"), *flags), pattern)
    assert not (tmp_path / "run").exists()


def test_help_lists_every_choice_in_its_section():
    import dataclasses

    from gan.settings.config import FLAG_GROUPS, TrainConfig

    result = run_script("train.py", "--help")
    assert result.returncode == 0 and not result.stderr
    sections = re.findall(r"^(\w+):$", result.stdout, re.M)
    assert sections == ["options", *FLAG_GROUPS]
    for setting in dataclasses.fields(TrainConfig):
        choices = setting.metadata["choices"]
        if choices:
            listed = "{" + ",".join(map(str, choices)) + "}"
            assert f"--{setting.name.replace('_', '-')} {listed}" in result.stdout, setting.name
    assert "--loss {bce,logits,hinge,wgan-clip}" in result.stdout


def _scripts() -> list[str]:
    """Every top-level and bench script: the files that run as programs."""
    paths = [*PROJECT_ROOT.glob("*.py"), *(PROJECT_ROOT / "bench").glob("*.py")]
    return sorted(str(p.relative_to(PROJECT_ROOT)) for p in paths if 'if __name__ == "__main__"' in p.read_text())


@pytest.mark.parametrize("script", _scripts())
def test_every_script_answers_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "Traceback" not in result.stderr


def _non_images(folder):
    folder.mkdir()
    (folder / "readme.txt").write_text("no pictures here")
    (folder / "broken.jpg").write_text("not really a jpeg")
    return folder


@pytest.mark.parametrize(
    "make_data, pattern",
    [
        (lambda tmp: tmp / "missing", "no such folder: .*missing"),
        (lambda tmp: write_images(tmp / "files", 1)[0], ".*0.png is a file, not a folder of images"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", r"no image files \(.*\) found under .*empty"),
        (lambda tmp: _non_images(tmp / "junk"), "none of the 1 image files under .*junk could be read"),
    ],
    ids=["missing", "file", "empty", "non-images"],
)
def test_bad_data_is_a_one_line_error_and_creates_no_run(make_data, pattern, tmp_path):
    data = make_data(tmp_path)
    result = run_script("train.py", "--data", str(data), "--out", str(tmp_path / "run"), *TINY_FLAGS)
    _assert_one_line_error(result, pattern)
    assert not (tmp_path / "run").exists()
    assert "Device:" not in result.stdout, "the data is checked before TensorFlow takes its seconds to start"


@pytest.mark.parametrize("flags, pattern", [
    (["--eval-real", "{tmp}/gone"], "no such folder: .*gone"),
    (["--eval-real", "{data}", "--inception-weights", "{tmp}/none.npz"], ".*none.npz.*"),
], ids=["eval-real", "weights"])
def test_a_bad_evaluation_folder_or_weights_file_is_one_line_and_creates_no_run(data_folder, tmp_path, flags, pattern):
    flags = [flag.format(tmp=tmp_path, data=data_folder) for flag in flags]
    result = run_script("train.py", "--data", str(data_folder), "--out", str(tmp_path / "run"), *TINY_FLAGS,
                        "--eval-every", "5", *flags)
    _assert_one_line_error(result, pattern)
    assert not (tmp_path / "run").exists()


def test_an_out_folder_holding_another_run_is_left_untouched(data_folder, tmp_path):
    out = tmp_path / "previous"
    out.mkdir()
    (out / "training_log.txt").write_text("Step: 0 Disc: real loss: 1 fake loss: 1 GAN loss: 1\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run_script("train.py", "--data", str(data_folder), "--out", str(out), *TINY_FLAGS)
    _assert_one_line_error(result, f"--out {re.escape(str(out))} already holds files .*")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
