import numpy as np
import pytest

from gan.models import block_filters, get_disc_normal, get_gen_normal


def test_recipe_parameter_counts_at_64x64x3():
    assert get_gen_normal((1, 1, 100)).count_params() == 3_616_771
    assert get_disc_normal((64, 64, 3)).count_params() == 2_768_321


@pytest.mark.parametrize("size, channels", [(16, 1), (32, 1), (32, 3), (64, 3), (128, 3)])
def test_shapes_follow_image_size_and_channels(size, channels):
    generator = get_gen_normal((1, 1, 8), image_size=size, channels=channels)
    discriminator = get_disc_normal((size, size, channels))
    assert generator.output_shape == (None, size, size, channels)
    assert discriminator.output_shape == (None, 1)
    images = generator(np.zeros((2, 1, 1, 8), np.float32))
    assert np.all(np.abs(np.asarray(images)) <= 1.0)
    probabilities = np.asarray(discriminator(images))
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_block_filters_match_the_recipe_and_scale_with_size():
    assert block_filters(64) == [512, 256, 128, 64]
    assert block_filters(32) == [256, 128, 64]
    assert block_filters(128) == [512, 512, 256, 128, 64]


@pytest.mark.parametrize("size", [8, 48, 100])
def test_unreachable_image_sizes_are_refused(size):
    with pytest.raises(ValueError, match=f"received {size}"):
        get_gen_normal(image_size=size)


def test_compiled_with_the_recipes_adam_settings():
    generator, discriminator = get_gen_normal(), get_disc_normal()
    assert generator.optimizer.learning_rate.numpy() == pytest.approx(1.5e-4)
    assert discriminator.optimizer.learning_rate.numpy() == pytest.approx(2e-4)
    assert generator.optimizer.beta_1 == discriminator.optimizer.beta_1 == 0.5


def _largest_kernel(model) -> np.ndarray:
    return max((w.numpy() for w in model.weights if "kernel" in w.path), key=np.size)


def test_dcgan_init_draws_weights_from_n_0_002_and_glorot_does_not():
    dcgan = _largest_kernel(get_gen_normal(init="dcgan"))
    glorot = _largest_kernel(get_gen_normal(init="glorot"))
    assert dcgan.std() == pytest.approx(0.02, rel=0.02)
    assert abs(dcgan.mean()) < 1e-3
    assert abs(glorot.std() - 0.02) > 0.003
    gammas = [w.numpy() for w in get_disc_normal(init="dcgan").weights if w.path.endswith("gamma")]
    assert np.concatenate(gammas).std() == pytest.approx(0.02, rel=0.2)


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="'he'"):
        get_disc_normal(init="he")
