"""A folder of random PNGs, so that the benchmarks run on a fresh checkout with no data.

96x96 like the anime faces, but noise: its decoding cost is not a real set's, so pass
--data for figures that stand for one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_random_pngs(folder: Path, count: int, size: int = 96, seed: int = 0) -> Path:
    """`count` random RGB PNGs of size x size in `folder`; returns the folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:06d}.png")
    return folder
