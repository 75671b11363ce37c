"""bench/disc_overfit.py's figures: ADA's overfitting heuristics on a discriminator's raw scores."""

import keras
import numpy as np
import pytest

from bench.disc_overfit import BATCH, overfitting, raw_scores


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
