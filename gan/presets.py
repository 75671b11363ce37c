"""The classic GAN write-ups as presets: `--preset recipe|dcgan|mlp|bilinear`.

A preset is settings and networks, not a trainer: its defaults are TrainConfig fields
(that flags given explicitly still override), its networks come from gan.models, and
its order of updates is one of gan.gan's schedules. Everything else (run folders, grids,
resume, metrics) is the same for all of them.

This module does not import Keras: TrainConfig validates against it before TensorFlow
starts (gan.runtime silences TensorFlow's start-up only if it imports TensorFlow first),
so each builder imports gan.models when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gan.errors import UserError

if TYPE_CHECKING:
    import keras

    from gan.config import TrainConfig

Networks = tuple["keras.Model", "keras.Model"]


@dataclass(frozen=True)
class Preset:
    """One write-up: its defaults, its networks and its order of updates."""

    name: str
    source: str  # where the networks and the step come from, printed when a run starts
    schedule: str  # gan.gan.SCHEDULES: the order of the updates in one step
    build: Callable[[TrainConfig], Networks]  # the generator and discriminator, compiled
    defaults: dict[str, object] = field(default_factory=dict)  # TrainConfig fields; explicit flags win
    image_size: int | None = None  # the one size the networks make; None: any power of two >= 16
    upsample_option: bool = True  # whether the generator has stride-2 transposed convolutions to replace


def _discriminator_options(config: TrainConfig) -> dict[str, object]:
    """What every discriminator builder takes from the run's settings besides its shape."""
    from gan.losses import adversarial_loss

    return {
        "logits": not adversarial_loss(config.loss).discriminator_outputs_probabilities,
        "spectral_norm": config.spectral_norm,
        "clip_value": config.clip_grad,
    }


def _image_shape(config: TrainConfig) -> tuple[int, int, int]:
    return (config.image_size, config.image_size, config.channels)


def _recipe(config: TrainConfig) -> Networks:
    from gan.models import get_disc_normal, get_gen_normal

    generator = get_gen_normal(
        (1, 1, config.latent_dim), config.image_size, config.channels, config.init, config.lr_g, upsample=config.upsample
    )
    discriminator = get_disc_normal(_image_shape(config), config.init, config.lr_d, **_discriminator_options(config))
    return generator, discriminator


def _dcgan(config: TrainConfig) -> Networks:
    from gan.models import dcgan_discriminator, dcgan_generator

    generator = dcgan_generator(
        config.latent_dim, config.image_size, config.channels, init=config.init, learning_rate=config.lr_g, upsample=config.upsample
    )
    discriminator = dcgan_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_discriminator_options(config)
    )
    return generator, discriminator


def _mlp(config: TrainConfig) -> Networks:
    from gan.models import mlp_discriminator, mlp_generator

    generator = mlp_generator(config.latent_dim, _image_shape(config), init=config.init, learning_rate=config.lr_g)
    discriminator = mlp_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_discriminator_options(config)
    )
    return generator, discriminator


def _bilinear(config: TrainConfig) -> Networks:
    from gan.models import bilinear_discriminator, bilinear_generator

    generator = bilinear_generator(config.latent_dim, config.channels, init=config.init, learning_rate=config.lr_g)
    discriminator = bilinear_discriminator(
        _image_shape(config), init=config.init, learning_rate=config.lr_d, **_discriminator_options(config)
    )
    return generator, discriminator


MNIST_SIZE = 28
HARD_LABELS = {"label_noise": 0.0}  # 1 for real, 0 for fake: every write-up but the recipe
DIGITS = {"image_size": MNIST_SIZE, "channels": 1}  # what the mlp and bilinear networks are built for
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "recipe",
            "the Keras anime-face recipe (\"An End to End Introduction to GANs\")",
            schedule="recipe",
            build=_recipe,
        ),
        Preset(
            "dcgan",
            "the DCGAN paper (Radford, Metz and Chintala, 2015) as the PyTorch DCGAN tutorial trains it",
            schedule="summed",
            build=_dcgan,
            defaults={**HARD_LABELS, "batch_size": 128, "lr_g": 2e-4, "lr_d": 2e-4, "init": "dcgan", "loss": "bce"},
        ),
        Preset(
            "mlp",
            "the fully connected GAN of the MNIST tutorials",
            schedule="generator_first",
            build=_mlp,
            defaults={**DIGITS, **HARD_LABELS, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "loss": "logits"},
            image_size=MNIST_SIZE,
            upsample_option=False,
        ),
        Preset(
            "bilinear",
            "a digits GAN with bilinear upsampling, after the TensorFlow DCGAN tutorial",
            schedule="simultaneous",
            build=_bilinear,
            defaults={
                **DIGITS, **HARD_LABELS, "batch_size": 128, "lr_g": 1e-3, "lr_d": 1e-3, "loss": "logits", "clip_grad": 1.0,
            },
            image_size=MNIST_SIZE,
            upsample_option=False,
        ),
    )
}


def preset_named(name: str) -> Preset:
    """The preset called `name`, or a UserError listing the presets."""
    if name not in PRESETS:
        raise UserError(f"--preset must be one of {', '.join(PRESETS)}; received {name!r}")
    return PRESETS[name]


def build_networks(config: TrainConfig) -> Networks:
    """The run's generator and discriminator, as its preset builds them, compiled."""
    return preset_named(config.preset).build(config)
