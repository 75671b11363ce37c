"""The recipe's generator and discriminator, built with the Functional API.

Only architecture and compilation live here; how the two are trained together is in
`gan.gan`. At 64x64x3 the builders reproduce the Keras anime-face recipe layer for layer
(3,616,771 and 2,768,321 parameters). Other sizes keep the recipe's shape: the last
upsampling block of the generator and the first block of the discriminator have 64
filters, and the count doubles towards the 4x4 end, capped at 512.
"""

from __future__ import annotations

import keras
from keras import layers

from gan.architecture import ADAM_BETA_1, BATCH_NORM_MOMENTUM, LEAKY_SLOPE, block_filters
from gan.config import DISCRIMINATOR_LEARNING_RATE, GENERATOR_LEARNING_RATE, INITS


def _kernel_init(init: str) -> keras.initializers.Initializer | str:
    # The DCGAN paper draws every weight from N(0, 0.02); the recipe keeps Keras' default.
    return keras.initializers.RandomNormal(0.0, 0.02) if init == "dcgan" else "glorot_uniform"


def _batch_norm(init: str) -> layers.BatchNormalization:
    gamma = keras.initializers.RandomNormal(1.0, 0.02) if init == "dcgan" else "ones"
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, gamma_initializer=gamma)


def _normalise_and_activate(x, init: str):
    x = _batch_norm(init)(x)
    return layers.LeakyReLU(LEAKY_SLOPE)(x)


def _compiled(model: keras.Model, learning_rate: float) -> keras.Model:
    # Binary cross-entropy on probabilities, as the recipe compiles both networks.
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=ADAM_BETA_1),
        loss="binary_crossentropy",
    )
    return model


def _check_init(init: str) -> None:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; received {init!r}")


def get_gen_normal(
    noise_shape: tuple[int, int, int] = (1, 1, 100),
    image_size: int = 64,
    channels: int = 3,
    init: str = "glorot",
    learning_rate: float = GENERATOR_LEARNING_RATE,
) -> keras.Model:
    """Noise (1, 1, latent) -> image (size, size, channels) in [-1, 1], compiled.

    The optimizer compiled here is the one the generator step uses (the recipe gives the
    combined model the same Adam settings), so saving the generator saves its state.
    """
    _check_init(init)
    kernel_init = _kernel_init(init)
    filters = block_filters(image_size)
    noise = keras.Input(shape=noise_shape, name="noise")
    # 1x1 -> 4x4
    x = layers.Conv2DTranspose(filters[0], 4, padding="valid", kernel_initializer=kernel_init)(noise)
    x = _normalise_and_activate(x, init)
    # 4x4 -> size/2, doubling each block
    for block in filters[1:]:
        x = layers.Conv2DTranspose(block, 4, strides=2, padding="same", kernel_initializer=kernel_init)(x)
        x = _normalise_and_activate(x, init)
    # one refining convolution at size/2
    x = layers.Conv2D(filters[-1], 3, padding="same", kernel_initializer=kernel_init)(x)
    x = _normalise_and_activate(x, init)
    # size/2 -> size, to pixels; tanh in float32 so mixed precision keeps the range exact
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=kernel_init)(x)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return _compiled(keras.Model(noise, image, name="generator"), learning_rate)


def get_disc_normal(
    image_shape: tuple[int, int, int] = (64, 64, 3),
    init: str = "glorot",
    learning_rate: float = DISCRIMINATOR_LEARNING_RATE,
) -> keras.Model:
    """Image -> probability that it is real, compiled.

    No accuracy metric, unlike the recipe: with soft labels it always reports 0.
    """
    _check_init(init)
    if image_shape[0] != image_shape[1]:
        raise ValueError(f"images must be square; received shape {image_shape}")
    kernel_init = _kernel_init(init)
    filters = list(reversed(block_filters(image_shape[0])))
    image = keras.Input(shape=image_shape, name="image")
    # size -> size/2; no batch norm on the first layer (DCGAN)
    x = layers.Conv2D(filters[0], 4, strides=2, padding="same", kernel_initializer=kernel_init)(image)
    x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    # halve the size each block down to 4x4, doubling the filters
    for block in filters[1:]:
        x = layers.Conv2D(block, 4, strides=2, padding="same", kernel_initializer=kernel_init)(x)
        x = _normalise_and_activate(x, init)
    x = layers.Flatten()(x)
    x = layers.Dense(1, kernel_initializer=kernel_init)(x)
    probability = layers.Activation("sigmoid", dtype="float32", name="probability")(x)
    return _compiled(keras.Model(image, probability, name="discriminator"), learning_rate)
