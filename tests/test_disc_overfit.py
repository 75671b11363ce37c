"""bench/disc_overfit.py's figures: ADA's overfitting heuristics on a discriminator's raw scores."""

from pathlib import Path

import keras
import numpy as np
import pytest

from bench.disc_overfit import BATCH, overfitting, raw_scores, score_changes
from conftest import TINY_RUN_FLAGS, run_script, write_images


def test_held_out_faces_scored_like_fakes_read_as_full_memorisation():
    train, fake = np.full(64, 2.0), np.full(64, -2.0)
    memorised = overfitting(train, fake.copy(), fake)
    assert memorised["r_v"] == pytest.approx(1.0) and memorised["r_t"] == 1.0
    assert (memorised["real_train"], memorised["real_held_out"], memorised["real_fake"]) == (1.0, 0.0, 0.0)
    general = overfitting(train, train.copy(), fake)
    assert general["r_v"] == pytest.approx(0.0)
    halfway = overfitting(train, np.zeros(64), fake)
    assert halfway["r_v"] == pytest.approx(0.5)


def test_a_probability_is_read_back_as_the_logit_before_its_sigmoid():
    image = keras.Input((2, 2, 1))
    logit = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(keras.layers.Flatten()(image))
    discriminator = keras.Model(image, keras.layers.Activation("sigmoid", name="probability")(logit))
    images = np.random.default_rng(0).uniform(-1, 1, (2 * BATCH + 5, 2, 2, 1)).astype(np.float32)
    scores = raw_scores(discriminator, images)
    assert scores.shape == (2 * BATCH,), "only whole batches, so every score sees a full batch"
    np.testing.assert_allclose(scores, images[: 2 * BATCH].sum(axis=(1, 2, 3)), atol=1e-4)


def _left_column_discriminator() -> keras.Model:
    """A 2x2 image's raw score: the sum of its left column."""
    image = keras.Input((2, 2, 1))
    weights = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)  # row-major: (0,0) (0,1) (1,0) (1,1)
    dense = keras.layers.Dense(1, use_bias=False, name="score")
    logit = dense(keras.layers.Flatten()(image))
    dense.set_weights([weights])
    return keras.Model(image, logit)


def test_score_changes_are_zero_for_unchanging_images_and_pinned_for_the_mirror():
    discriminator = _left_column_discriminator()
    flat = np.repeat(np.linspace(-1, 1, 2 * BATCH, dtype=np.float32), 4).reshape(2 * BATCH, 2, 2, 1)
    assert score_changes(discriminator, flat, raw_scores(discriminator, flat)) == pytest.approx((0.0, 0.0), abs=1e-10)
    sided = np.tile(np.array([[1.0, -1.0], [1.0, -1.0]], np.float32)[None, :, :, None], (2 * BATCH, 1, 1, 1))
    changed, mirrored = score_changes(discriminator, sided, raw_scores(discriminator, sided))
    assert mirrored == pytest.approx(16.0)  # 2 becomes -2
    assert 0 < changed < 16, "bCR's change mirrors each image or not, at random (a 2x2 image is not shifted)"


def test_a_run_with_minibatch_stddev_is_read_from_its_checkpoints(tmp_path: Path):
    """The discriminator of an --mbstd run holds the project's own layer: a fresh
    interpreter has to know it to load the checkpoint."""
    faces = tmp_path / "faces"
    write_images(faces, BATCH)
    run = tmp_path / "run"
    trained = run_script("train.py", "--data", str(faces), "--out", str(run), "--seed", "0", "--mbstd", *TINY_RUN_FLAGS)
    assert trained.returncode == 0, trained.stderr
    result = run_script("bench/disc_overfit.py", str(run), "--train", str(faces), "--held-out", str(faces), "-n", str(BATCH))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["10", "20", "25"]
