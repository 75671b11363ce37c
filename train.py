"""Train the recipe's DCGAN on a folder of images: `python train.py --data faces/`.

`--preset dcgan|mlp|bilinear` trains another classic write-up's networks and step instead,
and `--preset recipe-tuned` the recipe with the settings that beat it on faces, each with
its defaults (gan.settings.presets); flags given explicitly override them.

Without --data it trains on the embedded MNIST digits (data/digits) at 32x32x1, batch
32, for 3,000 steps: about five minutes on a laptop CPU. Every flag but --resume is a field of
gan.settings.config.TrainConfig; the run's settings are saved as <run>/config.json.
`python train.py --resume outputs/anime-1` continues a stopped run from its newest
checkpoint, with its saved settings (--steps and a few others may change).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from gan import cli
from gan.data.folders import open_training_data
from gan.errors import UserError
from gan.settings.config import FLAG_GROUPS, TrainConfig, digits_demo_with, with_preset
from gan.settings.presets import preset_named

ARGUMENT_TYPES = {"int": int, "int | None": int, "float": float, "str": str, "str | None": str}
METAVARS = {int: "N", float: "X", str: "TEXT"}
PATH_METAVARS = {"data": "DIR", "out": "DIR", "eval_real": "DIR", "inception_weights": "FILE", "diffaugment": "POLICY"}


def build_parser() -> argparse.ArgumentParser:
    """One flag per TrainConfig field, in the field's section, with its choices listed."""
    parser = cli.OneLineErrorParser(
        usage="%(prog)s [--data DIR] [--preset NAME] [options]  (see the sections below)",
        description="Train a DCGAN (the classic Keras anime-face recipe) on a folder of images.",
        epilog="Without --data: the embedded MNIST digits at 32x32x1, batch 32, 3000 steps. "
        "Defaults in brackets are the recipe's, used with --data; --preset changes some of them.",
    )
    groups = {name: parser.add_argument_group(name) for name in FLAG_GROUPS}
    groups["schedule"].add_argument(
        "--resume", type=Path, metavar="RUN", help="continue the run in this folder from its newest checkpoint"
    )
    recipe = TrainConfig(data="")
    for setting in dataclasses.fields(TrainConfig):
        flag = "--" + setting.name.replace("_", "-")
        default = getattr(recipe, setting.name)
        help_text = setting.metadata["help"] + ("" if default in (None, "") else f" [{default}]")
        group = groups[setting.metadata["group"]]
        if setting.type == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            kind, choices = ARGUMENT_TYPES[setting.type], setting.metadata["choices"]
            metavar = None if choices else PATH_METAVARS.get(setting.name, METAVARS[kind])
            group.add_argument(flag, type=kind, default=None, choices=choices, metavar=metavar, help=help_text)
    return parser


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, Path | None]:
    """The run's settings and, with --resume, the run folder to continue."""
    given = {name: value for name, value in vars(build_parser().parse_args(argv)).items() if value is not None}
    resume = given.pop("resume", None)
    if resume is not None:
        if not (resume / "config.json").is_file():
            raise UserError(f"--resume {resume}: not a run folder (no config.json)")
        return TrainConfig.load(resume / "config.json").resumed_with(given), resume
    if "data" in given:
        return with_preset(TrainConfig(data=given["data"]), given), None
    return digits_demo_with(given), None


def main() -> None:
    config, resume = config_from_args()
    config.validate()
    # TensorFlow takes seconds to start: the data is opened first, so a wrong --data fails at once.
    image_data = open_training_data(config.data, config.image_size, config.channels, config.data_cache)
    from gan.runtime import set_up_tensorflow

    print(f"Device: {set_up_tensorflow()}")
    print(f"Preset: {config.preset}, {preset_named(config.preset).source}")
    from gan.training.loop import train

    train(config, resume=resume, image_data=image_data)


if __name__ == "__main__":
    sys.exit(cli.run(main))
