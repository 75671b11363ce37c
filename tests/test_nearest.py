"""The memorisation check: a generator that returns its training images scores as
copying, one that returns real images it never saw does not; the picture and the CLI."""

import numpy as np
import pytest
from conftest import PROJECT_ROOT, run_script

from gan.data.folders import load_image_folder
from gan.evaluation.evaluator import generated_pixels, pixel_features
from gan.evaluation.nearest import COPYING_RATIO, copy_report, nearest, nearest_picture

DIGITS = load_image_folder(PROJECT_ROOT / "data" / "digits", 16, 1).images  # 5,000 real digits, decoded once
TRAIN, UNSEEN, LATER = DIGITS[:2000], DIGITS[2000:2500], DIGITS[2500:3000]


class ImagesAsGenerator:
    """A stand-in generator: each call returns the next images of a fixed set, in [-1, 1]."""

    input_shape = (None, 1, 1, 8)

    def __init__(self, images: np.ndarray):
        self.images, self.served = images, 0

    def __call__(self, noise, training=False):
        batch = self.images[self.served : self.served + len(noise)]
        self.served += len(noise)
        return batch.astype(np.float32) / 127.5 - 1


def pooled(images: np.ndarray) -> np.ndarray:
    """A small fixed feature map: 4x4 mean pooling of the (grey-as-RGB) pixels."""
    return images.reshape(len(images), 4, 4, 4, 4, 3).mean(axis=(2, 4)).reshape(len(images), -1)


def _report(generator_images: np.ndarray, unseen: np.ndarray | None):
    fakes = generated_pixels(ImagesAsGenerator(generator_images), 400)
    train = pixel_features(TRAIN, pooled)
    return copy_report(pixel_features(fakes, pooled), train, None if unseen is None else pixel_features(unseen, pooled))


@pytest.mark.parametrize("yardstick", ["held-out", "leave-one-out"])
def test_a_generator_returning_training_images_scores_as_copying(yardstick):
    report = _report(TRAIN[100:500], UNSEEN if yardstick == "held-out" else None)
    assert report.ratio < 0.01 < COPYING_RATIO and report.verdict.startswith("copying")


def test_a_generator_returning_unseen_images_does_not():
    report = _report(LATER[:400], UNSEEN)
    assert 0.8 < report.ratio < 1.25 and report.verdict.startswith("no sign of copying"), report.summary()


def test_without_held_out_images_the_yardstick_errs_towards_new():
    """Leave-one-out distances within the training set are shorter than an unseen image's
    (its nearest other is one of the set that was sampled with it), so new images score
    above 1 there: no false alarm, but a held-out folder is the fair yardstick."""
    report = _report(LATER[:400], None)
    assert report.ratio > 1 and report.verdict.startswith("no sign of copying"), report.summary()


def test_a_training_set_of_duplicates_gives_no_yardstick_rather_than_a_score():
    """Leave-one-out over a set where every image appears twice: each one's nearest other
    is at distance 0, so no ratio against it means anything, and the report says why."""
    train = pixel_features(np.concatenate([TRAIN[:100], TRAIN[:100]]), pooled)
    report = copy_report(pixel_features(LATER[:50], pooled), train, None)
    assert np.isnan(report.ratio) and report.verdict.startswith("no yardstick: most of the training images")
    assert "pass held-out images with --real" in report.summary()


def test_nearest_finds_the_image_itself_and_leave_one_out_skips_it():
    features = pixel_features(TRAIN[:50], pooled)
    indices, distances = nearest(features[:5], features, 3)
    assert list(indices[:, 0]) == [0, 1, 2, 3, 4] and np.all(distances[:, 0] < 1e-3)
    indices, _ = nearest(features, features, 1, leave_one_out=True)
    assert not np.any(indices[:, 0] == np.arange(50))


def test_the_picture_puts_each_fake_beside_its_neighbours():
    fakes, train = TRAIN[:2], TRAIN[:10]
    picture = nearest_picture(fakes, train, np.array([[0, 5, 6], [1, 7, 8]]), min_tile=16)
    assert picture.shape == (2 * 16 + 2, 4 * 16 + 3 * 2, 1)
    enlarged = nearest_picture(fakes, train, np.array([[0, 5, 6], [1, 7, 8]]), min_tile=40)
    assert enlarged.shape == (2 * 48 + 2, 4 * 48 + 3 * 2, 1)  # 16 px shown at 3x, the least whole factor to 40
    assert np.array_equal(picture[:16, :16], fakes[0]) and np.array_equal(picture[:16, 36:52], train[5]) and np.array_equal(picture[18:34, 54:70], train[8])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--nearest", "{empty}"], "--nearest .*empty: no image files found .*"),
        (["--nearest", "{missing}"], "--nearest .*missing: no image files found .*"),
        (["--nearest", "{data}", "--show", "0"], "--show must be a positive integer; received 0"),
    ],
)
def test_bad_nearest_input_is_one_line_and_writes_nothing(tiny_run, data_folder, tmp_path, flags, message):
    import re

    run, _ = tiny_run
    (tmp_path / "empty").mkdir()
    names = {"empty": tmp_path / "empty", "missing": tmp_path / "missing", "data": data_folder}
    result = run_script("evaluate.py", str(run), *[f.format(**names) for f in flags], "-o", str(tmp_path / "n.png"))
    assert result.returncode == 2 and re.fullmatch(f"error: {message}\n", result.stderr), result.stderr
    assert not (tmp_path / "n.png").exists()


def test_nearest_refuses_a_picture_name_of_another_format_before_tensorflow_starts(tiny_run, data_folder, tmp_path):
    result = run_script("evaluate.py", str(tiny_run[0]), "--nearest", str(data_folder), "-o", str(tmp_path / "n.jpg"))
    assert result.returncode == 2
    assert result.stderr == f"error: -o {tmp_path / 'n.jpg'}: this writes .png files; give a name that ends in .png\n"
