"""DiffAugment: each augmentation changes what it should, keeps shapes, and passes gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan.settings.choices import AUGMENT_POLICIES
from gan.training.augment import AUGMENTATIONS, color, cutout, diff_augment, translation


def _images(batch=8, size=16, channels=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, channels)).astype(np.float32))


def test_the_config_names_every_augmentation():
    assert tuple(AUGMENTATIONS) == AUGMENT_POLICIES


def test_color_changes_each_image_differently_and_keeps_shape():
    images = _images()
    out = color(images, keras.random.SeedGenerator(1)).numpy()
    assert out.shape == images.shape
    change = (out - images.numpy()).mean(axis=(1, 2, 3))
    assert np.std(change) > 0.01


def test_translation_moves_content_by_at_most_an_eighth():
    images = np.zeros((16, 16, 16, 1), np.float32)
    images[:, 8, 8, 0] = 1.0
    out = translation(tf.constant(images), keras.random.SeedGenerator(2)).numpy()
    places = []
    for picture in out:
        (y, x), = np.argwhere(picture[..., 0] == 1.0)  # the one bright pixel, moved
        assert abs(y - 8) <= 2 and abs(x - 8) <= 2 and picture.sum() == 1.0
        places.append((y, x))
    assert len(set(places)) > 1, "shifts differ per image"


def test_cutout_erases_a_half_size_square():
    out = cutout(tf.ones((8, 16, 16, 1)), keras.random.SeedGenerator(3)).numpy()
    erased = (out == 0).sum(axis=(1, 2, 3))
    assert np.all(erased > 0) and np.all(erased <= 8 * 8)
    assert np.any(erased == 64), "a square away from the edges is 8x8"


def test_gradients_flow_through_every_augmentation():
    images = _images()
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(diff_augment(images, ("color", "translation", "cutout"), keras.random.SeedGenerator(4)) ** 2)
    gradient = tape.gradient(loss, images).numpy()
    assert np.abs(gradient).sum() > 0 and np.isfinite(gradient).all()


def test_an_augmented_step_compiles_and_trains():
    from gan.training.networks import get_disc_normal, get_gen_normal
    from gan.training.step import DCGAN

    keras.utils.set_random_seed(0)
    model = DCGAN(get_gen_normal((1, 1, 8), 16, 1), get_disc_normal((16, 16, 1)), augment=("color", "translation", "cutout"))
    figures = model.compiled_train_step(jit_compile=False)(_images(4, 16, 1))
    assert all(np.isfinite(float(figures[key])) for key in ("d_real_loss", "d_fake_loss", "g_loss"))


@pytest.mark.parametrize("policy, names", [("color,cutout", ("color", "cutout")), (" translation ", ("translation",))])
def test_policy_text_is_parsed_and_validated(policy, names):
    from gan.errors import UserError
    from gan.settings.config import TrainConfig

    config = TrainConfig(data="x", diffaugment=policy)
    config.validate()
    assert config.augment_policy == names and set(names) <= set(AUGMENT_POLICIES)
    with pytest.raises(UserError, match="--diffaugment: unknown augmentation 'flip'"):
        TrainConfig(data="x", diffaugment=policy + ",flip").validate()
