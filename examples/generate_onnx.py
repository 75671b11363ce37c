"""Faces from an exported generator.onnx with only onnxruntime, numpy and pillow: no TensorFlow, no Keras.

    pip install onnxruntime numpy pillow
    python examples/generate_onnx.py digits-export/generator.onnx -n 16 --seed 0 -o grid.png

The noise of a seed is the one `generate.py --seed` draws (numpy's default_rng), so the
grid shows the same faces as the Keras generator would. This file deliberately imports
nothing from the project: copy it next to the .onnx file and it runs anywhere
onnxruntime does. MODEL may also be the folder export.py wrote.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

GAP, GAP_VALUE = 2, 128  # mid-grey pixels between faces, as the project's grids have


def columns_for(count: int) -> int:
    """A near-square grid with no empty cell where one exists nearby (64 -> 8x8, 5 -> 3x2)."""
    side = math.ceil(math.sqrt(count))
    return next((cols for cols in range(side, side + side // 2 + 1) if count % cols == 0), side)


def grid(faces: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 -> one picture, faces left to right then top to bottom."""
    count, height, width, channels = faces.shape
    cols = columns_for(count)
    rows = math.ceil(count / cols)
    picture = np.full((rows * (height + GAP) - GAP, cols * (width + GAP) - GAP, channels), GAP_VALUE, np.uint8)
    for index, face in enumerate(faces):
        top, left = (index // cols) * (height + GAP), (index % cols) * (width + GAP)
        picture[top : top + height, left : left + width] = face
    return picture


def faces(model: Path, count: int, seed: int) -> np.ndarray:
    """`count` faces of `seed` as (N, H, W, C) uint8: the generator's [-1, 1] output scaled to pixels."""
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    entry = session.get_inputs()[0]
    noise = np.random.default_rng(seed).standard_normal((count, *entry.shape[1:]), dtype=np.float32)
    images = session.run(None, {entry.name: noise})[0]
    return np.clip(np.rint((np.nan_to_num(images, nan=-1.0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="generator.onnx, or the folder export.py wrote")
    parser.add_argument("-n", "--count", type=int, default=16, help="faces [16]")
    parser.add_argument("--seed", type=int, default=0, help="the seed: the same seed, the same faces [0]")
    parser.add_argument("-o", "--out", type=Path, default=Path("grid.png"), help="the grid PNG [grid.png]")
    args = parser.parse_args()
    model = args.model / "generator.onnx" if args.model.is_dir() else args.model
    if not model.is_file():
        parser.exit(2, f"error: no such ONNX file: {model}\n")
    if args.count < 1 or args.seed < 0:
        parser.exit(2, f"error: -n must be at least 1 and --seed at least 0; received {args.count} and {args.seed}\n")
    picture = grid(faces(model, args.count, args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture).save(args.out)
    print(f"{args.out}: {args.count} faces of seed {args.seed} from {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
