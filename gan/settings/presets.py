"""The classic GAN write-ups as presets, `--preset recipe|dcgan|mlp|bilinear`, and the
one this project recommends on top of the recipe, `--preset recipe-tuned`.

A preset is settings and networks, not a trainer: its defaults are TrainConfig fields
(that flags given explicitly still override), its networks are built by the builder of
its name in gan.training.builders, and its order of updates is one of the schedules of
gan.training.step. Everything else (run folders, grids, resume, metrics) is the same for
all of them.

This module does not import Keras: TrainConfig validates against it before TensorFlow
starts (gan.runtime silences TensorFlow's start-up only if it imports TensorFlow first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gan.errors import UserError


@dataclass(frozen=True)
class Preset:
    """One write-up: its defaults, its networks and its order of updates."""

    name: str
    source: str  # where the networks and the step come from, printed when a run starts
    schedule: str  # one of choices.SCHEDULES: the order of the updates in one step
    defaults: dict[str, object] = field(default_factory=dict)  # TrainConfig fields; explicit flags win
    image_size: int | None = None  # the one size the networks make; None: any power of two >= 16
    upsample_option: bool = True  # whether the generator has stride-2 transposed convolutions to replace
    conv_discriminator: bool = True  # the convolutional stack of recipe and dcgan: a 4x4 map for --mbstd, batch norms to drop, filters for --width


MNIST_SIZE = 28
HARD_LABELS = {"label_noise": 0.0}  # 1 for real, 0 for fake: every write-up but the recipe
DIGITS = {"image_size": MNIST_SIZE, "channels": 1}  # what the mlp and bilinear networks are built for
# What the faces ladder at 32x32 found to beat the recipe (docs/quality.md): each a TrainConfig field.
RECIPE_TUNED = {"lr_g": 3e-4, "lr_d": 4e-4, "ema": 0.999, "width": 3.0, "width_d": 2.0, "mirror": True, "mbstd": True}
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "recipe",
            "the Keras anime-face recipe (\"An End to End Introduction to GANs\")",
            schedule="recipe",
        ),
        Preset(
            "recipe-tuned",
            "the recipe with the faces ladder's winners: three times the generator's filters and twice the "
            "discriminator's, minibatch stddev, doubled learning rates, a moving average of the generator, "
            "and mirrored images (--no-mirror for digits or text)",
            schedule="recipe",
            defaults=RECIPE_TUNED,
        ),
        Preset(
            "dcgan",
            "the DCGAN paper (Radford, Metz and Chintala, 2015) as the PyTorch DCGAN tutorial trains it",
            schedule="summed",
            defaults={**HARD_LABELS, "batch_size": 128, "lr_g": 2e-4, "lr_d": 2e-4, "init": "dcgan", "loss": "bce"},
        ),
        Preset(
            "mlp",
            "the fully connected GAN of the MNIST tutorials",
            schedule="generator_first",
            defaults={**DIGITS, **HARD_LABELS, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "loss": "logits"},
            image_size=MNIST_SIZE,
            upsample_option=False,
            conv_discriminator=False,
        ),
        Preset(
            "bilinear",
            "a digits GAN with bilinear upsampling, after the TensorFlow DCGAN tutorial",
            schedule="simultaneous",
            defaults={
                **DIGITS, **HARD_LABELS, "batch_size": 128, "lr_g": 1e-3, "lr_d": 1e-3, "loss": "logits", "clip_grad": 1.0,
            },
            image_size=MNIST_SIZE,
            upsample_option=False,
            conv_discriminator=False,
        ),
    )
}


def preset_named(name: str) -> Preset:
    """The preset called `name`, or a UserError listing the presets."""
    if name not in PRESETS:
        raise UserError(f"--preset must be one of {', '.join(PRESETS)}; received {name!r}")
    return PRESETS[name]

