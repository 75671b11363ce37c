import keras
import numpy as np
import pytest

from gan.training.networks import (
    bilinear_discriminator,
    bilinear_generator,
    block_filters,
    dcgan_discriminator,
    dcgan_generator,
    get_disc_normal,
    get_gen_normal,
    mlp_discriminator,
    mlp_generator,
)


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
    assert block_filters(32, width=2) == [512, 256, 128]
    assert block_filters(64, width=0.5) == [256, 128, 64, 32]


def _conv_filters(model) -> list[int]:
    return [layer.filters for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]


@pytest.mark.parametrize("build_generator, build_discriminator", [
    (lambda width: get_gen_normal((1, 1, 8), 32, 3, width=width), lambda width: get_disc_normal((32, 32, 3), width=width)),
    (lambda width: dcgan_generator(8, 32, 3, width=width), lambda width: dcgan_discriminator((32, 32, 3), width=width)),
])
def test_width_scales_every_hidden_convolution_and_keeps_the_outputs(build_generator, build_discriminator):
    for build in (build_generator, build_discriminator):
        plain, wide = _conv_filters(build(1.0)), _conv_filters(build(2.0))
        assert len(plain) == len(wide) >= 3
        # the generator's last convolution makes the pixels and the dcgan critic's makes one score: neither widens
        assert [w == 2 * p for p, w in zip(plain, wide)] == [p > 3 for p in plain]
    assert build_generator(2.0).output_shape == (None, 32, 32, 3)
    assert build_discriminator(2.0).output_shape == (None, 1)


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


# Parameter counts, by hand. Keras' count_params() includes batch norm's moving mean and
# variance (non-trainable), so a BN layer over c channels counts 4c, of which 2c train; a
# kxk convolution from a to b channels has k*k*a*b weights (+ b biases); Dense a -> b has
# a*b + b. Spectral normalisation adds one non-trainable vector of the output width.


def _trainable_count(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_recipe_bilinear_upsampling_generator_at_64x64x3():
    # transpose 4x4 100->512 valid: 819,712 + BN 2,048; then resize + 3x3 convolutions:
    # 512->256: 1,179,904 + 1,024; 256->128: 295,040 + 512; 128->64: 73,792 + 256;
    # the refining 3x3 64->64: 36,928 + 256; to pixels 64->3: 1,731. Total 2,411,203.
    generator = get_gen_normal((1, 1, 100), upsample="bilinear")
    assert generator.count_params() == 819_712 + 2_048 + 1_179_904 + 1_024 + 295_040 + 512 + 73_792 + 256 + 36_928 + 256 + 1_731 == 2_411_203
    assert generator.output_shape == (None, 64, 64, 3)
    transposed = [layer for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [layer.strides for layer in transposed] == [(1, 1)], "only the 1x1 -> 4x4 projection stays transposed"
    assert sum(isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "bilinear" for layer in generator.layers) == 4


def test_recipe_spectral_norm_and_logits_keep_the_weights_and_change_the_output():
    # The recipe's 2,768,321 plus one vector per wrapped layer: 64 + 128 + 256 + 512 + 1 = 961.
    discriminator = get_disc_normal((64, 64, 3), spectral_norm=True, logits=True)
    assert discriminator.count_params() == 2_768_321 + 961
    assert _trainable_count(discriminator) == _trainable_count(get_disc_normal((64, 64, 3)))
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert [type(layer.layer).__name__ for layer in wrapped] == ["Conv2D"] * 4 + ["Dense"]
    assert discriminator.layers[-1].name == "score" and discriminator.layers[-1].dtype_policy.name == "float32"


@pytest.mark.parametrize("build", [get_disc_normal, dcgan_discriminator])
def test_a_discriminator_without_batch_norm_has_only_its_convolutions(build):
    with_norm = build((32, 32, 3), spectral_norm=True)
    without = build((32, 32, 3), spectral_norm=True, batch_norm=False)
    norms = [layer for layer in with_norm.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 2, "32x32: batch norm after the second and third convolutions"
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in without.layers)
    # Each dropped batch norm held gamma, beta, a moving mean and variance per channel: 4 x (128 + 256).
    assert with_norm.count_params() - without.count_params() == 4 * (128 + 256)
    # In training mode an image's score depends on the rest of its batch only through batch
    # norm (without spectral norm, whose power iteration moves at each training call).
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    for batch_norm, depends_on_the_batch in ((True, True), (False, False)):
        discriminator = build((32, 32, 3), batch_norm=batch_norm)
        alone = np.asarray(discriminator(images[:2], training=True))[0]
        together = np.asarray(discriminator(images, training=True))[0]
        assert (not np.allclose(alone, together, atol=1e-6)) == depends_on_the_batch


@pytest.mark.parametrize(
    "size, generator_count, generator_trainable, discriminator_count, discriminator_trainable",
    [
        # 64x64x3, ngf = ndf = 64, no biases. G: transposed 4x4 convolutions 100->512
        # 819,200, 512->256 2,097,152, 256->128 524,288, 128->64 131,072, 64->3 3,072
        # (3,574,784) + BN over 512+256+128+64 = 960 channels (1,920 trainable, 3,840 in all).
        # D: 4x4 convolutions 3->64 3,072, 64->128 131,072, 128->256 524,288, 256->512
        # 2,097,152, 512->1 8,192 (2,763,776) + BN over 128+256+512 = 896 (1,792; 3,584).
        # The trainable counts are the PyTorch tutorial's 3,576,704 and 2,765,568.
        (64, 3_574_784 + 3_840, 3_574_784 + 1_920, 2_763_776 + 3_584, 2_763_776 + 1_792),
        # 32x32x3, a block fewer. G: 100->256 409,600, 256->128 524,288, 128->64 131,072,
        # 64->3 3,072 (1,068,032) + BN over 448 (896; 1,792). D: 3->64 3,072, 64->128
        # 131,072, 128->256 524,288, 256->1 4,096 (662,528) + BN over 384 (768; 1,536).
        (32, 1_068_032 + 1_792, 1_068_032 + 896, 662_528 + 1_536, 662_528 + 768),
    ],
)
def test_dcgan_networks_have_the_papers_shapes_and_counts(
    size, generator_count, generator_trainable, discriminator_count, discriminator_trainable
):
    generator = dcgan_generator(100, size, 3)
    discriminator = dcgan_discriminator((size, size, 3))
    assert (generator.count_params(), _trainable_count(generator)) == (generator_count, generator_trainable)
    assert (discriminator.count_params(), _trainable_count(discriminator)) == (discriminator_count, discriminator_trainable)
    assert generator.input_shape == (None, 1, 1, 100) and generator.output_shape == (None, size, size, 3)
    assert discriminator.output_shape == (None, 1) and discriminator.layers[-1].name == "probability"
    feature_sizes = [layer.output.shape[1] for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert feature_sizes == [4 * 2**i for i in range(len(feature_sizes))] and feature_sizes[-1] == size
    assert not any("bias" in w.path for w in generator.weights + discriminator.weights), "the paper's layers have no biases"
    assert sum(isinstance(layer, keras.layers.ReLU) for layer in generator.layers) == len(feature_sizes) - 1
    assert {layer.negative_slope for layer in discriminator.layers if isinstance(layer, keras.layers.LeakyReLU)} == {0.2}
    gammas = np.concatenate([w.numpy() for w in generator.weights if w.path.endswith("gamma")])
    assert gammas.mean() == pytest.approx(1.0, abs=0.005) and gammas.std() == pytest.approx(0.02, rel=0.2)
    assert _largest_kernel(discriminator).std() == pytest.approx(0.02, rel=0.05)
    for network in (generator, discriminator):
        assert network.optimizer.learning_rate.numpy() == pytest.approx(2e-4) and network.optimizer.beta_1 == 0.5


def test_mlp_networks_have_the_published_shapes_and_counts():
    # G: Dense 100->32 3,232, 32->64 2,112, 64->128 8,320, 128->784 101,136 (114,800)
    # + BN over 32+64+128 = 224 (448 trainable, 896 in all).
    # D: Dense 784->128 100,480, 128->64 8,256, 64->32 2,080, 32->1 33 = 110,849.
    generator, discriminator = mlp_generator(), mlp_discriminator()
    assert generator.count_params() == 3_232 + 2_112 + 8_320 + 101_136 + 896 == 115_696
    assert _trainable_count(generator) == 114_800 + 448
    assert discriminator.count_params() == _trainable_count(discriminator) == 100_480 + 8_256 + 2_080 + 33 == 110_849
    assert generator.input_shape == (None, 100) and generator.output_shape == (None, 28, 28, 1)
    assert [layer.units for layer in generator.layers if isinstance(layer, keras.layers.Dense)] == [32, 64, 128, 784]
    assert [layer.units for layer in discriminator.layers if isinstance(layer, keras.layers.Dense)] == [128, 64, 32, 1]
    assert discriminator.layers[-1].name == "score", "raw logits, for BCE on logits"


def test_bilinear_networks_have_the_published_shapes_and_counts():
    # G: Dense 100->14,400 1,454,400 + BN 57,600 (28,800 trainable); 3x3 100->128 115,328
    # + BN 512; 3x3 128->64 73,792 + BN 256; 5x5 64->32 51,232 + BN 128; 5x5 32->1 801.
    # D: 3x3 1->64 640; 5x5 64->128 204,928; Dense 7*7*128 = 6,272 -> 1 6,273.
    generator, discriminator = bilinear_generator(), bilinear_discriminator()
    assert generator.count_params() == 1_454_400 + 57_600 + 115_328 + 512 + 73_792 + 256 + 51_232 + 128 + 801 == 1_754_049
    assert _trainable_count(generator) == 1_754_049 - (14_400 + 128 + 64 + 32) * 2
    assert discriminator.count_params() == 640 + 204_928 + 6_273 == 211_841
    convolutions = [layer.output.shape[1:] for layer in generator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions == [(10, 10, 128), (18, 18, 64), (32, 32, 32), (28, 28, 1)]
    assert generator.layers[-1].activation.__name__ == "linear", "the write-up's output is linear"
    assert [layer.rate for layer in discriminator.layers if isinstance(layer, keras.layers.Dropout)] == [0.3, 0.3]
    assert discriminator.optimizer.clipvalue == 1.0 and generator.optimizer.clipvalue is None
    for network in (generator, discriminator):
        assert network.optimizer.learning_rate.numpy() == pytest.approx(1e-3) and network.optimizer.beta_1 == 0.9


DISCRIMINATORS = {
    "recipe": lambda **options: get_disc_normal((16, 16, 1), **options),
    "dcgan": lambda **options: dcgan_discriminator((16, 16, 1), **options),
    "mlp": lambda **options: mlp_discriminator(**options),
    "bilinear": lambda **options: bilinear_discriminator(**options),
}


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminators_end_in_a_float32_sigmoid_only_for_probabilities(name):
    for logits, activation in ((False, "sigmoid"), (True, "linear")):
        last = DISCRIMINATORS[name](logits=logits).layers[-1]
        assert last.activation.__name__ == activation and last.dtype_policy.name == "float32"


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_spectral_norm_holds_through_stateless_training_calls_and_saves(name, tmp_path):
    """Under `stateless_call(training=True)`, as the training step calls it, the wrapped
    kernels are divided by their spectral norm: scaling the first one changes nothing.
    The power-iteration vectors come back as state and nothing is assigned; the saved
    network loads with safe_mode and computes the same."""
    keras.utils.set_random_seed(0)
    discriminator = DISCRIMINATORS[name](spectral_norm=True, logits=True)
    images = np.random.default_rng(0).uniform(-1, 1, (4, *discriminator.input_shape[1:])).astype(np.float32)
    weights = [v.numpy() for v in discriminator.trainable_variables]
    state = [v.numpy() for v in discriminator.non_trainable_variables]
    first_kernel = next(i for i, v in enumerate(discriminator.trainable_variables) if "kernel" in v.path)
    scaled = [w * 10 if i == first_kernel else w for i, w in enumerate(weights)]

    judged, new_state = discriminator.stateless_call(weights, state, images, training=True)
    judged_scaled, _ = discriminator.stateless_call(scaled, state, images, training=True)
    np.testing.assert_allclose(np.asarray(judged_scaled), np.asarray(judged), rtol=1e-4, atol=1e-5)
    paths = [v.path for v in discriminator.non_trainable_variables]
    assert all(not np.array_equal(before, np.asarray(after)) for p, before, after in zip(paths, state, new_state) if "vector_u" in p)
    assert all(np.array_equal(w, v.numpy()) for w, v in zip(weights, discriminator.trainable_variables))

    discriminator.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True, compile=False)
    np.testing.assert_array_equal(loaded(images, training=False), discriminator(images, training=False))


def test_unknown_upsampling_is_refused():
    with pytest.raises(ValueError, match="'nearest'"):
        get_gen_normal(upsample="nearest")
