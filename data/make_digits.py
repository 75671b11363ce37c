"""Rebuild data/digits/ (the embedded demo set) from an MNIST .npz file.

    python data/make_digits.py path/to/mnist.npz [--count 5000] [--padding 2] [--out DIR]

The .npz holds x_train (60000, 28, 28) uint8 and y_train, as in Keras' mnist.npz. The
first COUNT training digits are padded with black from 28x28 to 32x32 (the network needs
a power of two, and padding keeps strokes sharp where resizing would blur them) and
written as PNGs in one folder per label. `--padding 0` keeps MNIST's own 28x28, the size
of the mlp and bilinear presets (bench/presets.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

PADDING = 2  # 28 + 2 * 2 = 32: the embedded demo set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz", type=Path, help="MNIST .npz with x_train and y_train")
    parser.add_argument("--count", type=int, default=5000, help="number of digits to write [5000]")
    parser.add_argument("--padding", type=int, default=PADDING, help=f"black pixels added on each side [{PADDING}]")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "digits", help="output folder")
    args = parser.parse_args()
    with np.load(args.npz) as mnist:
        digits, labels = mnist["x_train"][: args.count], mnist["y_train"][: args.count]
    padded = np.pad(digits, ((0, 0), (args.padding, args.padding), (args.padding, args.padding)))
    for index, (digit, label) in enumerate(zip(padded, labels)):
        folder = args.out / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(digit, "L").save(folder / f"{index:05d}.png", optimize=True)
    print(f"wrote {len(padded)} digits to {args.out}")


if __name__ == "__main__":
    main()
