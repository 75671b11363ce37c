"""make_gif.py, plot_losses.py, generate.py, plot_models.py and progress_panel.py on a real run."""

import os
import re
import shutil

import numpy as np
import pytest
from conftest import run_script
from PIL import Image

from gan.pictures.grids import to_uint8
from gan.pictures.latent import generate, interpolate, load_generator, seed_noise
from gan.pictures.plots import moving_average
from gan.runs.folder import generator_source
from gan.runs.text_log import format_log_line, read_log


def _one_line_error(result, pattern):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and re.fullmatch(f"error: {pattern}", lines[0]), result.stderr


def _gif_frames(path):
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append((np.asarray(gif.convert("L")), gif.info["duration"]))
    return frames


# make_gif.py

def test_gif_of_the_samples_and_of_the_fixed_grids(tiny_run, tmp_path):
    run, _ = tiny_run
    result = run_script("make_gif.py", str(run), "-o", str(tmp_path / "s.gif"))
    assert result.returncode == 0, result.stderr
    frames = _gif_frames(tmp_path / "s.gif")
    assert len(frames) == 3
    for (pixels, _), step in zip(frames, ("00", "10", "20")):
        assert pixels.shape == (34, 34)
        assert np.array_equal(pixels, np.asarray(Image.open(run / "images" / f"{step}_image.png")))
    assert run_script("make_gif.py", str(run), "--fixed", "--fps", "2", "-o", str(tmp_path / "f.gif")).returncode == 0
    fixed = _gif_frames(tmp_path / "f.gif")
    assert len(fixed) == 4 and all(duration == 500 for _, duration in fixed)


def test_gif_frames_follow_numeric_step_order_and_may_have_gaps(tmp_path):
    for step in (100, 5, 20):  # string order would be 100, 20, 5
        Image.new("L", (40, 40), step).save(tmp_path / f"{step}_image.png")
    Image.new("L", (40, 40), 250).save(tmp_path / "7fixed_image.png")
    result = run_script("make_gif.py", str(tmp_path), "--label", "-o", str(tmp_path / "out.gif"))
    assert result.returncode == 0, result.stderr
    frames = _gif_frames(tmp_path / "out.gif")
    assert [int(pixels[-1, -1]) for pixels, _ in frames] == [5, 20, 100]
    for pixels, _ in frames:  # the step label: white text on black, top left
        corner = pixels[:12, :30]
        assert corner.min() == 0 and corner.max() > 200 and (corner > 128).sum() > 20


def test_gif_of_a_folder_without_frames_is_a_clear_error(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "config.json").write_text("{}")
    _one_line_error(run_script("make_gif.py", str(tmp_path)), r"no NNNN_image.png grids in .*images")
    _one_line_error(run_script("make_gif.py", str(tmp_path / "nowhere")), "no such run folder: .*nowhere")


@pytest.mark.parametrize("script, flags, suffix", [
    ("make_gif.py", [], ".gif"), ("make_gif.py", ["--mp4"], ".mp4"), ("progress_panel.py", [], ".png"),
    ("plot_losses.py", [], ".png"), ("doctor.py", [], ".png"),
])
def test_an_output_name_of_another_format_is_refused_before_anything_is_written(tiny_run, tmp_path, script, flags, suffix):
    run, _ = tiny_run
    wrong = tmp_path / "new" / "picture.bmp"
    result = run_script(script, str(run), *flags, "-o", str(wrong))
    _one_line_error(result, f"-o {re.escape(str(wrong))}: this writes {re.escape(suffix)} files; give a name that ends in {re.escape(suffix)}")
    assert not (tmp_path / "new").exists() and "Timeline" not in result.stdout


def test_make_gif_refuses_frames_slower_than_a_gif_can_hold(tiny_run, tmp_path):
    _one_line_error(run_script("make_gif.py", str(tiny_run[0]), "--fps", "0.001", "-o", str(tmp_path / "slow.gif")),
                    r"--fps must be at least 0.01 \(a frame every 100 s\); received 0.001")


def test_make_gif_picks_the_newest_run_in_a_folder_of_runs(tiny_run, tmp_path):
    run, _ = tiny_run
    runs = tmp_path / "outputs"
    shutil.copytree(run, runs / "new")
    (runs / "old" / "images").mkdir(parents=True)
    os.utime(runs / "old", (0, 0))
    os.utime(runs / "old" / "images", (0, 0))
    result = run_script("make_gif.py", str(runs))
    assert result.returncode == 0, result.stderr
    assert (runs / "new" / "samples.gif").is_file()


# plot_losses.py

def _log_text(steps):
    figures = {"d_real_loss": 0.5, "d_fake_loss": 0.25, "g_loss": 2.0}
    return "".join(format_log_line(step, figures) for step in steps)


def test_log_reader_skips_corrupt_and_cut_off_lines(tmp_path):
    log = tmp_path / "training_log.txt"
    log.write_text(_log_text(range(3)) + "Step: 3 Disc: real lo\x00ss: 0.1\n" + _log_text([4]) + "Step: 5 Disc: real loss: 0.4")
    history = read_log(log)
    assert history.steps.tolist() == [0, 1, 2, 4]
    assert history.d_fake_loss.tolist() == [0.25] * 4 and history.g_loss.tolist() == [2.0] * 4
    assert history.skipped_lines == 2


def test_log_reader_reads_what_the_trainer_wrote(tiny_run):
    run, _ = tiny_run
    history = read_log(run / "training_log.txt")
    first = (run / "training_log.txt").read_text().splitlines()[0]
    assert history.steps.tolist() == list(range(25)) and history.skipped_lines == 0
    assert first.endswith(f"GAN loss: {history.g_loss[0]:f}")


def test_moving_average_is_trailing_and_keeps_the_length():
    assert moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert moving_average(np.array([1.0, 2.0]), 1).tolist() == [1.0, 2.0]


def test_plot_losses_writes_a_png_beside_the_log_and_reports_skipped_lines(tmp_path):
    log = tmp_path / "training_log.txt"
    log.write_text(_log_text(range(50)) + "Step: 50 Disc: re")
    result = run_script("plot_losses.py", str(log), "--smooth", "5")
    assert result.returncode == 0, result.stderr
    assert "skipped 1 unreadable line" in result.stderr
    with Image.open(tmp_path / "training_log.png") as plot:
        assert plot.size == (1000, 500)


def test_plot_losses_errors(tmp_path):
    _one_line_error(run_script("plot_losses.py", str(tmp_path / "missing.txt")), "no such log file: .*missing.txt")
    (tmp_path / "junk.txt").write_text("hello\n")
    _one_line_error(run_script("plot_losses.py", str(tmp_path / "junk.txt")), ".*junk.txt holds no 'Step: N .*' lines")
    (tmp_path / "ok.txt").write_text(_log_text([0]))
    _one_line_error(run_script("plot_losses.py", str(tmp_path / "ok.txt"), "--smooth", "0"), "--smooth must be .*received 0")


# generate.py

def _generate(source, *flags, out):
    result = run_script("generate.py", str(source), *flags, "--individual", str(out), "-o", str(out / "grid.png"))
    assert result.returncode == 0, result.stderr
    return [np.asarray(Image.open(p)) for p in sorted(out.glob("0*.png"))]


def _plain_samples(source, seed, count=1):
    """What `generate.py SOURCE -n COUNT --seed SEED` draws, computed in this process: each
    generate.py call costs a process start and TensorFlow's import."""
    generator = load_generator(generator_source(source))
    return to_uint8(generate(generator, seed_noise(seed, count, tuple(generator.input_shape[1:]))))


def test_generate_samples_seeded_grids_and_individual_images(tiny_run, tmp_path):
    run, _ = tiny_run
    first = _generate(run, "-n", "5", "--seed", "3", out=tmp_path / "a")
    assert len(first) == 5 and first[0].shape == (16, 16)
    assert all(np.array_equal(a, b[..., 0]) for a, b in zip(first, _plain_samples(run / "models" / "generator_25.keras", 3, 5)))
    assert not np.array_equal(first[0], _plain_samples(run, 4)[0, ..., 0])
    with Image.open(tmp_path / "a" / "grid.png") as grid:  # 5 images: 3 columns, 2 rows
        assert grid.size == (3 * 16 + 2 * 2, 2 * 16 + 2)


@pytest.mark.parametrize("flags", [[], ["--linear"]], ids=["slerp", "lerp"])
def test_interpolation_endpoints_are_the_two_seeds_plain_samples(tiny_run, tmp_path, flags):
    run, _ = tiny_run
    strip = _generate(run, "--interpolate", "6", "--seed", "3", "--to-seed", "9", *flags, out=tmp_path / "i")
    start, end = (_plain_samples(run, seed)[0, ..., 0] for seed in (3, 9))
    assert len(strip) == 6
    assert np.abs(strip[0].astype(int) - start).max() <= 1 and np.abs(strip[-1].astype(int) - end).max() <= 1
    assert not np.array_equal(strip[2], strip[0])
    with Image.open(tmp_path / "i" / "grid.png") as grid:
        assert grid.size == (6 * 16 + 5 * 2, 16), "one row"


def test_arithmetic_shows_both_seeds_and_their_sum(tiny_run, tmp_path):
    run, _ = tiny_run
    row = _generate(run, "--arithmetic", "--seed", "3", out=tmp_path / "sum")
    assert len(row) == 3 and np.abs(row[1].astype(int) - _plain_samples(run, 4)[0, ..., 0]).max() <= 1


def test_latent_helpers():
    noise = seed_noise(1, 2000, (1, 1, 8), truncation=1.0)
    assert np.abs(noise).max() <= 1.0 and noise.std() > 0.4
    assert np.array_equal(seed_noise(1, 3, (8,))[0], seed_noise(1, 1, (8,))[0])
    a, b = seed_noise(1, 1, (64,))[0], seed_noise(2, 1, (64,))[0]
    path = interpolate(a, b, 5)
    np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-6)
    norms = np.linalg.norm(path, axis=1)
    assert norms.min() > 0.9 * min(np.linalg.norm(a), np.linalg.norm(b)), "slerp keeps the norm"
    assert np.linalg.norm(interpolate(a, b, 3, spherical=False)[1]) < norms[2]


def test_generate_errors(tiny_run, tmp_path):
    run, _ = tiny_run
    broken = tmp_path / "broken.keras"
    broken.write_bytes((run / "models" / "generator_25.keras").read_bytes()[:500])
    _one_line_error(run_script("generate.py", str(broken)), "could not load a Keras model from .*broken.keras: .*")
    _one_line_error(run_script("generate.py", str(run / "config.json")), ".*config.json is not a Keras 3 model file .*")
    _one_line_error(run_script("generate.py", str(run / "models" / "discriminator_25.keras")),
                    r".*discriminator_25.keras is not a generator: it outputs \(None, 1\), not images .*")
    (tmp_path / "empty" / "models").mkdir(parents=True)
    (tmp_path / "empty" / "config.json").write_text("{}")
    _one_line_error(run_script("generate.py", str(tmp_path / "empty")), "no generator_NNNN.keras saves in .*models")
    _one_line_error(run_script("generate.py", str(run), "-n", "0"), "-n must be a positive integer; received 0")
    _one_line_error(run_script("generate.py", str(run), "--truncation", "1e-9"), "--truncation must be at least 0.1; received 1e-09")
    _one_line_error(run_script("generate.py", str(run), "--interpolate", "1"), "--interpolate needs at least 2 steps; received 1")
    _one_line_error(run_script("generate.py", str(run), "-o", str(tmp_path / "grid.jpg")),
                    "-o .*grid.jpg: this writes .png files; give a name that ends in .png")


# plot_models.py and progress_panel.py

@pytest.mark.skipif(
    shutil.which("dot") is None, reason="needs Graphviz's dot program: apt-get install graphviz (.ci/run installs it)"
)
def test_plot_models_draws_three_diagrams(tiny_run, tmp_path):
    run, _ = tiny_run
    result = run_script("plot_models.py", str(run), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("generator", "discriminator", "gan"):
        with Image.open(tmp_path / f"{name}.png") as diagram:
            assert diagram.width > 100 and diagram.height > 100


def test_plot_models_without_graphviz_says_how_to_install_it(tiny_run, tmp_path):
    run, _ = tiny_run
    python_only = tmp_path / "bin"
    python_only.mkdir()
    env_path = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(python_only)
        result = run_script("plot_models.py", str(run), "-o", str(tmp_path / "d"))
    finally:
        os.environ["PATH"] = env_path
    _one_line_error(result, "Graphviz's `dot` program is not installed: apt-get install graphviz .*")


def test_progress_panel_labels_the_chosen_steps(tiny_run, tmp_path):
    run, _ = tiny_run
    result = run_script("progress_panel.py", str(run), "--every", "10", "-o", str(tmp_path / "panel.png"))
    assert result.returncode == 0, result.stderr
    assert "steps 0, 10, 20" in result.stdout
    with Image.open(tmp_path / "panel.png") as panel:
        assert panel.width == 900 and panel.height == 330
    _one_line_error(run_script("progress_panel.py", str(run), "--every", "0"), "--every must be a positive integer; received 0")
