"""The networks of every preset, built with the Functional API.

Only architecture and compilation live here; how the two are trained together is in
`gan.training.step`, and which builders a preset uses in `gan.training.builders` (its settings in
`gan.settings.presets`).

- The recipe (get_gen_normal, get_disc_normal): at 64x64x3 the Keras anime-face recipe
  layer for layer (3,616,771 and 2,768,321 parameters). Other sizes keep the recipe's
  shape: the last upsampling block of the generator and the first block of the
  discriminator have 64 filters, and the count doubles towards the 4x4 end, capped at 512.
- dcgan: the DCGAN paper's networks as the PyTorch DCGAN tutorial writes them.
- mlp: the fully connected GAN of the MNIST tutorials.
- bilinear: a digits GAN that upsamples bilinearly, after the TensorFlow DCGAN tutorial.

Options that are off in the recipe, so that it stays the recipe: a discriminator that
outputs raw scores (`logits`, for every loss but bce), spectral normalisation of the
discriminator's weights, and bilinear upsampling in place of transposed convolutions.
Every network ends in a float32 activation, so mixed precision keeps its output exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
from keras import layers

from gan.settings.choices import INITS, UPSAMPLES
from gan.settings.recipe import (
    ADAM_BETA_1,
    BATCH_NORM_EPSILON,
    BATCH_NORM_MOMENTUM,
    DISCRIMINATOR_LEARNING_RATE,
    GENERATOR_LEARNING_RATE,
    LEAKY_SLOPE,
    block_filters,
)
from gan.training.layers import MinibatchStdDev

# PyTorch's BatchNorm defaults, which the dcgan and mlp write-ups ran with: 0.1 of each
# new batch (Keras' momentum 0.9) and epsilon 1e-5.
TORCH_BATCH_NORM = {"momentum": 0.9, "epsilon": 1e-5}
KERAS_BATCH_NORM = {"momentum": 0.99, "epsilon": 1e-3}  # the bilinear write-up's
KERAS_LEAKY_SLOPE = 0.3  # LeakyReLU() with no argument, as the TensorFlow tutorial writes it
KERAS_ADAM_BETA_1 = 0.9  # Adam(1e-3) with no other argument, as the bilinear write-up has it
DCGAN_LEARNING_RATE = 2e-4
MLP_LEARNING_RATE = 2e-4
BILINEAR_LEARNING_RATE = 1e-3
MNIST_SHAPE = (28, 28, 1)
MLP_GENERATOR_UNITS = (32, 64, 128)
MLP_DISCRIMINATOR_UNITS = (128, 64, 32)
BILINEAR_SEED = (12, 12, 100)  # the generator's first feature map; valid convolutions shrink it to 28x28



def _kernel_init(init: str) -> keras.initializers.Initializer | str:
    # The DCGAN paper draws every weight from N(0, 0.02); the recipe keeps Keras' default.
    return keras.initializers.RandomNormal(0.0, 0.02) if init == "dcgan" else "glorot_uniform"


def _batch_norm(init: str, momentum: float = BATCH_NORM_MOMENTUM, epsilon: float = BATCH_NORM_EPSILON) -> layers.BatchNormalization:
    gamma = keras.initializers.RandomNormal(1.0, 0.02) if init == "dcgan" else "ones"
    return layers.BatchNormalization(momentum=momentum, epsilon=epsilon, gamma_initializer=gamma)


def _leaky(slope: float = LEAKY_SLOPE) -> Callable[[], layers.Layer]:
    return lambda: layers.LeakyReLU(slope)


def _normalise_and_activate(x, init: str, activation: Callable[[], layers.Layer] = _leaky(), **batch_norm):
    x = _batch_norm(init, **batch_norm)(x)
    return activation()(x)


def _compiled(model: keras.Model, learning_rate: float, beta_1: float = ADAM_BETA_1, clip_value: float = 0.0) -> keras.Model:
    # Binary cross-entropy, as the recipe compiles both networks; the training step
    # computes its own losses (gan.training.losses), so this only names the recipe's choice.
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, clipvalue=clip_value or None)
    if model.dtype_policy.compute_dtype == "float16":
        # float16 gradients underflow without it; bfloat16 has float32's range and needs none.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def _check_options(init: str, upsample: str = "transpose") -> None:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; received {init!r}")
    if upsample not in UPSAMPLES:
        raise ValueError(f"upsample must be one of {UPSAMPLES}; received {upsample!r}")


def _square_shape(image_shape: tuple[int, int, int]) -> int:
    if image_shape[0] != image_shape[1]:
        raise ValueError(f"images must be square; received shape {image_shape}")
    return image_shape[0]


def _weighted(layer: layers.Layer, spectral_norm: bool) -> layers.Layer:
    """The layer, or the layer with its kernel divided by its largest singular value."""
    return layers.SpectralNormalization(layer) if spectral_norm else layer


def _with_spread(x, mbstd_group: int):
    """The discriminator's last feature map, with the minibatch-stddev feature when asked."""
    return MinibatchStdDev(mbstd_group)(x) if mbstd_group else x


def _generator(noise, x, learning_rate: float, output: str = "tanh", beta_1: float = ADAM_BETA_1) -> keras.Model:
    """The compiled generator, its last activation in float32 so that mixed precision
    keeps the output exact."""
    image = layers.Activation(output, dtype="float32", name="image")(x)
    return _compiled(keras.Model(noise, image, name="generator"), learning_rate, beta_1)


def _discriminator(
    image, x, logits: bool, learning_rate: float, clip_value: float, beta_1: float = ADAM_BETA_1
) -> keras.Model:
    """The compiled discriminator, ending in a float32 probability (for bce) or raw score."""
    if logits:
        judgement = layers.Activation("linear", dtype="float32", name="score")(x)
    else:
        judgement = layers.Activation("sigmoid", dtype="float32", name="probability")(x)
    model = keras.Model(image, judgement, name="discriminator")
    return _compiled(model, learning_rate, beta_1, clip_value)


def _double(x, filters: int, kernel_init, upsample: str, use_bias: bool = True):
    """size -> 2 * size: a stride-2 transposed 4x4 convolution, or a bilinear resize and a
    3x3 convolution, which cannot leave the transposed kind's checkerboard pattern."""
    if upsample == "transpose":
        return layers.Conv2DTranspose(
            filters, 4, strides=2, padding="same", use_bias=use_bias, kernel_initializer=kernel_init
        )(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    return layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, kernel_initializer=kernel_init)(x)


def _upsampling_stack(noise, filters: list[int], init: str, kernel_init, upsample: str, activation, use_bias: bool = True, **batch_norm):
    """Noise (1, 1, latent) -> a feature map at half the image size: a 4x4 valid transposed
    convolution, then one doubling block per further filter count."""
    # 1x1 -> 4x4
    x = layers.Conv2DTranspose(filters[0], 4, padding="valid", use_bias=use_bias, kernel_initializer=kernel_init)(noise)
    x = _normalise_and_activate(x, init, activation, **batch_norm)
    # 4x4 -> size/2, doubling each block
    for block in filters[1:]:
        x = _double(x, block, kernel_init, upsample, use_bias)
        x = _normalise_and_activate(x, init, activation, **batch_norm)
    return x


def _downsampling_stack(
    image, filters: list[int], init: str, kernel_init, spectral_norm: bool, normalise: bool, use_bias: bool = True, **batch_norm
):
    """Image -> 4x4 feature map: stride-2 4x4 convolutions, no batch norm on the first
    (DCGAN), nor on any when not `normalise`."""
    x = image
    for index, block in enumerate(filters):
        convolution = layers.Conv2D(block, 4, strides=2, padding="same", use_bias=use_bias, kernel_initializer=kernel_init)
        x = _weighted(convolution, spectral_norm)(x)
        x = _normalise_and_activate(x, init, **batch_norm) if normalise and index else layers.LeakyReLU(LEAKY_SLOPE)(x)
    return x


# The recipe


def get_gen_normal(
    noise_shape: tuple[int, int, int] = (1, 1, 100),
    image_size: int = 64,
    channels: int = 3,
    init: str = "glorot",
    learning_rate: float = GENERATOR_LEARNING_RATE,
    *,
    upsample: str = "transpose",
    width: float = 1.0,
) -> keras.Model:
    """Noise (1, 1, latent) -> image (size, size, channels) in [-1, 1], compiled.

    The optimizer compiled here is the one the generator step uses (the recipe gives the
    combined model the same Adam settings), so saving the generator saves its state.
    """
    _check_options(init, upsample)
    kernel_init = _kernel_init(init)
    filters = block_filters(image_size, width)
    noise = keras.Input(shape=noise_shape, name="noise")
    x = _upsampling_stack(noise, filters, init, kernel_init, upsample, _leaky())
    # one refining convolution at size/2
    x = layers.Conv2D(filters[-1], 3, padding="same", kernel_initializer=kernel_init)(x)
    x = _normalise_and_activate(x, init)
    # size/2 -> size, to pixels
    x = _double(x, channels, kernel_init, upsample)
    return _generator(noise, x, learning_rate)


def get_disc_normal(
    image_shape: tuple[int, int, int] = (64, 64, 3),
    init: str = "glorot",
    learning_rate: float = DISCRIMINATOR_LEARNING_RATE,
    *,
    logits: bool = False,
    spectral_norm: bool = False,
    batch_norm: bool = True,
    clip_value: float = 0.0,
    mbstd_group: int = 0,
    width: float = 1.0,
) -> keras.Model:
    """Image -> probability that it is real (a raw score with `logits`), compiled.

    No accuracy metric, unlike the recipe: with soft labels it always reports 0.
    `clip_value` clips each gradient value in the optimizer (0: no clipping);
    `mbstd_group` > 0 appends a minibatch-stddev feature map at 4x4, before the dense.
    Without `batch_norm` the convolutions go straight to their activations, as in the
    spectral-norm GANs: a batch norm after a spectrally normalised convolution rescales
    its output freely and so undoes the normalisation's bound.
    """
    _check_options(init)
    kernel_init = _kernel_init(init)
    filters = list(reversed(block_filters(_square_shape(image_shape), width)))
    image = keras.Input(shape=image_shape, name="image")
    # size -> 4x4, doubling the filters each block
    x = _downsampling_stack(image, filters, init, kernel_init, spectral_norm, batch_norm)
    x = _with_spread(x, mbstd_group)
    x = layers.Flatten()(x)
    x = _weighted(layers.Dense(1, kernel_initializer=kernel_init), spectral_norm)(x)
    return _discriminator(image, x, logits, learning_rate, clip_value)


# dcgan: Radford, Metz and Chintala (2015), as the PyTorch DCGAN tutorial writes it


def dcgan_generator(
    latent_dim: int = 100,
    image_size: int = 64,
    channels: int = 3,
    *,
    init: str = "dcgan",
    learning_rate: float = DCGAN_LEARNING_RATE,
    upsample: str = "transpose",
    width: float = 1.0,
) -> keras.Model:
    """Noise (1, 1, latent) -> image in [-1, 1]: transposed 4x4 convolutions without
    biases, z -> ngf*8 at 4x4 -> ngf*4 -> ngf*2 -> ngf -> pixels at 64x64 (ngf = 64), a
    block fewer per halving of the size; batch norm and ReLU, tanh."""
    _check_options(init, upsample)
    kernel_init = _kernel_init(init)
    noise = keras.Input(shape=(1, 1, latent_dim), name="noise")
    x = _upsampling_stack(
        noise, block_filters(image_size, width), init, kernel_init, upsample, layers.ReLU, use_bias=False, **TORCH_BATCH_NORM
    )
    x = _double(x, channels, kernel_init, upsample, use_bias=False)
    return _generator(noise, x, learning_rate)


def dcgan_discriminator(
    image_shape: tuple[int, int, int] = (64, 64, 3),
    *,
    init: str = "dcgan",
    learning_rate: float = DCGAN_LEARNING_RATE,
    logits: bool = False,
    spectral_norm: bool = False,
    batch_norm: bool = True,
    clip_value: float = 0.0,
    mbstd_group: int = 0,
    width: float = 1.0,
) -> keras.Model:
    """Image -> probability (a raw score with `logits`): stride-2 4x4 convolutions without
    biases, ndf -> ndf*2 -> ndf*4 -> ndf*8 down to 4x4 (ndf = 64 at 64x64), batch norm
    after all but the first (none without `batch_norm`), LeakyReLU(0.2), then a 4x4 valid
    convolution to one value (with `mbstd_group` > 0, on the 4x4 map and its
    minibatch-stddev feature)."""
    _check_options(init)
    kernel_init = _kernel_init(init)
    filters = list(reversed(block_filters(_square_shape(image_shape), width)))
    image = keras.Input(shape=image_shape, name="image")
    x = _downsampling_stack(image, filters, init, kernel_init, spectral_norm, batch_norm, use_bias=False, **TORCH_BATCH_NORM)
    x = _with_spread(x, mbstd_group)
    # 4x4 -> 1x1x1
    x = _weighted(layers.Conv2D(1, 4, padding="valid", use_bias=False, kernel_initializer=kernel_init), spectral_norm)(x)
    x = layers.Flatten()(x)
    return _discriminator(image, x, logits, learning_rate, clip_value)


# mlp: the fully connected GAN of the MNIST tutorials


def mlp_generator(
    latent_dim: int = 100,
    image_shape: tuple[int, int, int] = MNIST_SHAPE,
    *,
    init: str = "glorot",
    learning_rate: float = MLP_LEARNING_RATE,
) -> keras.Model:
    """Noise (latent,) -> image in [-1, 1]: Dense 32 -> 64 -> 128 with batch norm and
    LeakyReLU(0.2) between, Dense to every pixel, tanh, reshaped to the image."""
    _check_options(init)
    kernel_init = _kernel_init(init)
    noise = keras.Input(shape=(latent_dim,), name="noise")
    x = noise
    for units in MLP_GENERATOR_UNITS:
        x = layers.Dense(units, kernel_initializer=kernel_init)(x)
        x = _normalise_and_activate(x, init, **TORCH_BATCH_NORM)
    x = layers.Dense(math.prod(image_shape), kernel_initializer=kernel_init)(x)
    x = layers.Reshape(image_shape)(x)
    return _generator(noise, x, learning_rate)


def mlp_discriminator(
    image_shape: tuple[int, int, int] = MNIST_SHAPE,
    *,
    init: str = "glorot",
    learning_rate: float = MLP_LEARNING_RATE,
    logits: bool = True,
    spectral_norm: bool = False,
    clip_value: float = 0.0,
) -> keras.Model:
    """Image -> raw score (a probability without `logits`): Flatten, Dense 128 -> 64 -> 32
    with LeakyReLU(0.2), Dense to one value."""
    _check_options(init)
    kernel_init = _kernel_init(init)
    image = keras.Input(shape=image_shape, name="image")
    x = layers.Flatten()(image)
    for units in (*MLP_DISCRIMINATOR_UNITS, 1):
        x = _weighted(layers.Dense(units, kernel_initializer=kernel_init), spectral_norm)(x)
        if units > 1:
            x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    return _discriminator(image, x, logits, learning_rate, clip_value)


# bilinear: the digits GAN with bilinear upsampling, after the TensorFlow DCGAN tutorial


def bilinear_generator(
    latent_dim: int = 100,
    channels: int = 1,
    *,
    init: str = "glorot",
    learning_rate: float = BILINEAR_LEARNING_RATE,
) -> keras.Model:
    """Noise (latent,) -> 28x28 image, linear output: Dense to 12x12x100, then valid
    convolutions between bilinear doublings, 12 -> 10 -> 20 -> 18 -> 36 -> 32 -> 28."""
    _check_options(init)
    kernel_init = _kernel_init(init)
    activation = _leaky(KERAS_LEAKY_SLOPE)
    noise = keras.Input(shape=(latent_dim,), name="noise")
    x = layers.Dense(math.prod(BILINEAR_SEED), kernel_initializer=kernel_init)(noise)
    x = _normalise_and_activate(x, init, activation, **KERAS_BATCH_NORM)
    x = layers.Reshape(BILINEAR_SEED)(x)
    for doubled, filters, kernel in ((False, 128, 3), (True, 64, 3), (True, 32, 5)):
        if doubled:
            x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        x = layers.Conv2D(filters, kernel, padding="valid", kernel_initializer=kernel_init)(x)
        x = _normalise_and_activate(x, init, activation, **KERAS_BATCH_NORM)
    x = layers.Conv2D(channels, 5, padding="valid", kernel_initializer=kernel_init)(x)
    return _generator(noise, x, learning_rate, output="linear", beta_1=KERAS_ADAM_BETA_1)


def bilinear_discriminator(
    image_shape: tuple[int, int, int] = MNIST_SHAPE,
    *,
    init: str = "glorot",
    learning_rate: float = BILINEAR_LEARNING_RATE,
    logits: bool = True,
    spectral_norm: bool = False,
    clip_value: float = 1.0,
) -> keras.Model:
    """Image -> raw score (a probability without `logits`): Conv 64 3x3 and Conv 128 5x5,
    both stride 2, each followed by LeakyReLU and Dropout(0.3); Flatten; Dense to one
    value. Gradients clipped to [-1, 1] by default, as in the write-up."""
    _check_options(init)
    kernel_init = _kernel_init(init)
    image = keras.Input(shape=image_shape, name="image")
    x = image
    for filters, kernel in ((64, 3), (128, 5)):
        convolution = layers.Conv2D(filters, kernel, strides=2, padding="same", kernel_initializer=kernel_init)
        x = _weighted(convolution, spectral_norm)(x)
        x = layers.LeakyReLU(KERAS_LEAKY_SLOPE)(x)
        x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    x = _weighted(layers.Dense(1, kernel_initializer=kernel_init), spectral_norm)(x)
    return _discriminator(image, x, logits, learning_rate, clip_value, beta_1=KERAS_ADAM_BETA_1)
