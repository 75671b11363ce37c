"""Which images a benchmark runs on, and at what size: the flags the bench scripts share.

Without --data a folder of random PNGs is made, so that the benchmarks run on a fresh
checkout with no data. They are 96x96 like the anime faces, but noise: their decoding
cost is not a real set's, so pass --data for figures that stand for one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from gan.settings.recipe import check_image_size


def image_size(text: str) -> int:
    """argparse type of --image-size: a size the networks can be built at."""
    try:
        size = int(text)
        check_image_size(size)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return size


def add_data_flags(parser: argparse.ArgumentParser, generated: int) -> None:
    """--data (default: `generated` random PNGs), --image-size, --channels, --batch-size."""
    parser.add_argument("--data", type=Path, help=f"folder of images [{generated} random 96x96 PNGs, made in a temporary folder]")
    parser.add_argument("--image-size", type=image_size, default=64, help="[64]")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3), help="[3]")
    parser.add_argument("--batch-size", type=int, default=64, help="[64]")
    parser.set_defaults(generated_images=generated)


def image_folder(args: argparse.Namespace, scratch: Path) -> Path:
    """--data, or a folder of random PNGs made under `scratch`."""
    return args.data or write_random_pngs(scratch / "images", args.generated_images)


def write_random_pngs(folder: Path, count: int, size: int = 96, seed: int = 0) -> Path:
    """`count` random RGB PNGs of size x size in `folder`; returns the folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:06d}.png")
    return folder
