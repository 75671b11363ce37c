"""Pictures of generator output: [-1, 1] arrays -> uint8 grids -> PNG files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan.runs.atomic import atomic_write

GRID_GAP = 2  # pixels of mid-grey between tiles, so neighbouring images stay apart
GRID_GAP_VALUE = 128


def to_uint8(images: np.ndarray) -> np.ndarray:
    """The inverse of the data scaling x / 127.5 - 1, rounded and clipped (NaN -> 0)."""
    pixels = np.nan_to_num(np.asarray(images, dtype=np.float32), nan=-1.0)
    return np.clip(np.rint((pixels + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid_columns(count: int) -> int:
    """Columns for a near-square grid with no empty cell where one exists nearby
    (64 -> 8x8, 32 -> 8x4), else ceil(sqrt(count)) (5 -> 3x2)."""
    side = math.ceil(math.sqrt(count))
    return next((cols for cols in range(side, side + side // 2 + 1) if count % cols == 0), side)


def make_grid(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(N, H, W, C) uint8 -> one image of `cols` (by default `grid_columns`) columns of
    tiles, GRID_GAP pixels of background between neighbours."""
    count, height, width, channels = images.shape
    cols = cols or grid_columns(count)
    rows = math.ceil(count / cols)
    grid = np.full(
        (rows * height + (rows - 1) * GRID_GAP, cols * width + (cols - 1) * GRID_GAP, channels),
        GRID_GAP_VALUE,
        dtype=np.uint8,
    )
    for index, image in enumerate(images):
        top = (index // cols) * (height + GRID_GAP)
        left = (index % cols) * (width + GRID_GAP)
        grid[top : top + height, left : left + width] = image
    return grid


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block (nearest neighbour), for one (H, W, C) image or
    a batch: small generator output becomes readable with its pixels kept sharp, where
    smooth resampling or a browser's stretching would blur them."""
    return images.repeat(factor, axis=-3).repeat(factor, axis=-2)


def png_bytes(image: np.ndarray) -> bytes:
    """An (H, W, 1 or 3) uint8 array as the bytes of a PNG file (grayscale or RGB)."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(image: np.ndarray, path: Path) -> None:
    """Write an (H, W, 1 or 3) uint8 array as PNG via a temporary name, so no half file is left."""
    with atomic_write(path) as partial:
        partial.write_bytes(png_bytes(image))


def burn_label(picture: Image.Image, text: str) -> Image.Image:
    """A copy of an L or RGB picture with `text` in its top-left corner.

    White on a black box, so it reads on any picture; Pillow's built-in font, so no font
    file is needed.
    """
    labelled = picture.copy()
    draw = ImageDraw.Draw(labelled)
    font = ImageFont.load_default(size=max(10, min(picture.size) // 16))
    _, _, right, bottom = draw.textbbox((3, 1), text, font=font)
    draw.rectangle((0, 0, right + 3, bottom + 2), fill=0)
    draw.text((3, 1), text, fill=255 if picture.mode == "L" else (255, 255, 255), font=font)
    return labelled
