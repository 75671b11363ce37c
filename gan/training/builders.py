"""A run's settings -> its networks: each preset's two networks, compiled, by the builder
registered under its name, and the two joined into the DCGAN that trains them.

The preset table (gan.settings.presets) names the write-ups and their defaults; the
layers are in gan.training.networks and the step in gan.training.step.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from gan.settings.config import TrainConfig
from gan.settings.presets import preset_named
from gan.training.losses import adversarial_loss
from gan.training.networks import (
    bilinear_discriminator,
    bilinear_generator,
    dcgan_discriminator,
    dcgan_generator,
    get_disc_normal,
    get_gen_normal,
    mlp_discriminator,
    mlp_generator,
)
from gan.training.step import DCGAN

Networks = tuple[keras.Model, keras.Model]


def _discriminator_options(config: TrainConfig) -> dict[str, object]:
    """What every discriminator builder takes from the run's settings besides its shape."""
    return {
        "logits": not adversarial_loss(config.loss).discriminator_outputs_probabilities,
        "spectral_norm": config.spectral_norm,
        "clip_value": config.clip_grad,
    }


def _conv_discriminator_options(config: TrainConfig) -> dict[str, object]:
    """The options of the discriminators that end in a feature map (recipe, dcgan)."""
    return {
        **_discriminator_options(config),
        "mbstd_group": config.mbstd_group if config.mbstd else 0,
        "batch_norm": config.disc_batch_norm,
        "width": config.disc_width,
    }


def _image_shape(config: TrainConfig) -> tuple[int, int, int]:
    return (config.image_size, config.image_size, config.channels)


def _recipe(config: TrainConfig) -> Networks:
    generator = get_gen_normal(
        (1, 1, config.latent_dim), config.image_size, config.channels, config.init, config.lr_g, upsample=config.upsample,
        width=config.width,
    )
    discriminator = get_disc_normal(_image_shape(config), config.init, config.lr_d, **_conv_discriminator_options(config))
    return generator, discriminator


def _dcgan(config: TrainConfig) -> Networks:
    generator = dcgan_generator(
        config.latent_dim, config.image_size, config.channels, init=config.init, learning_rate=config.lr_g, upsample=config.upsample,
        width=config.width,
    )
    discriminator = dcgan_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_conv_discriminator_options(config)
    )
    return generator, discriminator


def _mlp(config: TrainConfig) -> Networks:
    generator = mlp_generator(config.latent_dim, _image_shape(config), init=config.init, learning_rate=config.lr_g)
    discriminator = mlp_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_discriminator_options(config)
    )
    return generator, discriminator


def _bilinear(config: TrainConfig) -> Networks:
    generator = bilinear_generator(config.latent_dim, config.channels, init=config.init, learning_rate=config.lr_g)
    discriminator = bilinear_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_discriminator_options(config)
    )
    return generator, discriminator


BUILDERS: dict[str, Callable[[TrainConfig], Networks]] = {
    "recipe": _recipe,
    "recipe-tuned": _recipe,
    "dcgan": _dcgan,
    "mlp": _mlp,
    "bilinear": _bilinear,
}


def build_networks(config: TrainConfig) -> Networks:
    """The run's generator and discriminator, as its preset builds them, compiled."""
    return BUILDERS[preset_named(config.preset).name](config)


def join_networks(config: TrainConfig, generator: keras.Model, discriminator: keras.Model) -> DCGAN:
    """The two networks (new or restored) joined for training with the run's step."""
    return DCGAN(
        generator,
        discriminator,
        loss=config.loss,
        schedule=preset_named(config.preset).schedule,
        label_noise=config.label_noise,
        seed=config.seed,
        sample_count=config.grid_images,
        undo_non_finite=config.on_nan == "skip",
        ema_decay=config.ema,
        augment=config.augment_policy,
        r1_gamma=config.r1,
        r1_every=config.r1_every,
        consistency=config.consistency,
        generator_updates=config.g_updates,
        fakes_batch_statistics=config.fakes_batch_stats,
    )


def build_dcgan(config: TrainConfig) -> DCGAN:
    """The preset's two networks at the configured size, joined for training."""
    return join_networks(config, *build_networks(config))
