"""One image file -> uint8 pixels of the run's size and mode, whatever the file holds.

Pillow does the decoding because it reads every format and mode users bring (palette,
16-bit, CMYK, alpha, animated GIF/WebP); its decoders release the GIL, so a thread pool
decodes on every core. A file that is not a usable image is a reason to skip, never an
exception that stops a run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
WHITE = 255


def find_image_files(root: Path) -> list[Path]:
    """Every image file under `root` at any depth, sorted, following symlinks once.

    Directories are tracked by their real path so a symlink loop is walked only once.
    """
    found, seen, pending = [], set(), [root]
    while pending:
        directory = pending.pop()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir():
                    pending.append(Path(entry.path))
                elif entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    found.append(Path(entry.path))
            except OSError:
                continue
    return sorted(found)


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to L or RGB, compositing transparency onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's own conversion clips 16-bit values at 255 instead of scaling them.
        scaled = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (WHITE, WHITE, WHITE, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("L" if channels == 1 else "RGB")


def decode_image(path: Path, image_size: int | None, channels: int) -> np.ndarray:
    """One file -> (size, size, channels) uint8; the first frame of an animation.

    `image_size` None keeps the file's own (height, width, channels): FID of two folders
    feeds each image to the network at its native size, where a resize of ours would
    change the score.
    Raises for anything that is not a usable image: mostly OSError, but Pillow's
    decoders raise other types on malformed input too.
    """
    with Image.open(path) as image:
        image.seek(0)
        image.load()
        image = _to_mode(image, channels)
        if image_size is not None:
            image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
        return np.asarray(image, dtype=np.uint8).reshape(image.height, image.width, channels)


def decode_or_reason(path: Path, image_size: int | None, channels: int) -> np.ndarray | str:
    """The decoded image, or why it was skipped. One bad file must never stop a run, and
    Pillow's decoders fail on malformed input with many exception types, hence the
    catch-all. The tests fuzz it with random bytes, and read every mode and format
    Pillow writes, so that a bug of ours cannot hide in it by skipping good images."""
    try:
        return decode_image(path, image_size, channels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too large"
    except UnidentifiedImageError:
        return "not recognised as images"
    except Exception:
        return "corrupt or truncated"


def treat_large_images_as_too_large() -> None:
    # Pillow only warns between 89 and 179 megapixels; treat those as too large too.
    warnings.simplefilter("error", Image.DecompressionBombWarning)
