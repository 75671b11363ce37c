"""Folder of images -> the images a run trains on, and what was skipped.

The set is decoded once, in parallel, into one uint8 array held in memory (8,000 faces at
64x64x3 are 98 MB; 200,000 are 2.5 GB), so no step ever re-lists or re-decodes a file.
A folder too big for memory is streamed instead (`--data-cache none`): tf.data reads and
decodes the files in parallel as training goes, with the same decoder, so only a few
batches are ever held.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.data.decode import (
    IMAGE_EXTENSIONS,
    decode_or_reason,
    find_image_files,
    treat_large_images_as_too_large,
)
from gan.data.pipeline import streaming_batches, training_batches
from gan.errors import UserError

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class ImageSet:
    """The decoded images (N, size, size, channels) uint8 and what was skipped."""

    images: np.ndarray
    skipped: Counter = field(default_factory=Counter)

    def skipped_summary(self) -> str:
        """One line such as '3 of 120 files skipped (2 unreadable, 1 too large)'."""
        total = len(self.images) + sum(self.skipped.values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return f"{sum(self.skipped.values())} of {total} image files skipped ({reasons})"

    def description(self) -> str:
        return f"{len(self.images)} images"

    def batches(self, batch_size: int, seed: int, skip_batches: int = 0, mirror: bool = False) -> "tf.data.Dataset":
        """The endless batch stream of `training_batches` over these images."""
        return training_batches(self.images, batch_size, seed, skip_batches, mirror)


@dataclass
class ImageStream:
    """The image files of a folder, to be decoded as training reads them (no cache).

    Unreadable files are only found when first read, so `skipped` stays empty and each
    one is reported on stderr when met.
    """

    paths: list[Path]
    image_size: int
    channels: int
    skipped: Counter = field(default_factory=Counter)

    def description(self) -> str:
        return f"{len(self.paths)} image files, streamed (decoded as they are read)"

    def batches(self, batch_size: int, seed: int, skip_batches: int = 0, mirror: bool = False) -> "tf.data.Dataset":
        """The endless batch stream of `streaming_batches` over these files."""
        return streaming_batches(self.paths, self.image_size, self.channels, batch_size, seed, skip_batches, mirror)


def list_image_folder(root: Path) -> list[Path]:
    """The folder's image files; raise UserError if the folder has none."""
    if not root.exists():
        raise UserError(f"no such folder: {root}")
    if not root.is_dir():
        raise UserError(f"{root} is a file, not a folder of images")
    paths = find_image_files(root)
    if not paths:
        raise UserError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found under {root}"
        )
    return paths


def _decode_files(paths: list[Path], image_size: int | None, channels: int) -> list[np.ndarray | str]:
    """Each file's pixels or the reason it was skipped, in order, decoded in parallel."""
    workers = min(32, (os.cpu_count() or 1) * 2)
    with warnings.catch_warnings():
        treat_large_images_as_too_large()
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda p: decode_or_reason(p, image_size, channels), paths))


def _nothing_readable(root: Path, paths: list[Path]) -> UserError:
    return UserError(f"none of the {len(paths)} image files under {root} could be read")


def load_image_folder(root: str | Path, image_size: int, channels: int) -> ImageSet:
    """Decode every image under `root`; raise UserError if there is nothing to train on."""
    root = Path(root)
    paths = list_image_folder(root)
    results = _decode_files(paths, image_size, channels)
    images = [r for r in results if isinstance(r, np.ndarray)]
    skipped = Counter(r for r in results if isinstance(r, str))
    if not images:
        raise _nothing_readable(root, paths)
    return ImageSet(np.stack(images), skipped)


def image_folder_chunks(
    root: str | Path, image_size: int | None, channels: int, chunk: int
) -> Iterator[list[np.ndarray]]:
    """The images under `root`, in file order, `chunk` files at a time, so that a folder of
    any length holds only one chunk in memory. `image_size` None keeps each image's own
    size, so a chunk may mix sizes. Unreadable files are left out; raises UserError once
    the folder is done if none of them could be read."""
    root = Path(root)
    paths = list_image_folder(root)
    decoded = 0
    for start in range(0, len(paths), chunk):
        results = _decode_files(paths[start : start + chunk], image_size, channels)
        images = [r for r in results if isinstance(r, np.ndarray)]
        decoded += len(images)
        yield images
    if not decoded:
        raise _nothing_readable(root, paths)


def open_image_folder(root: str | Path, image_size: int, channels: int) -> ImageStream:
    """The folder's files, to stream; raise UserError unless at least one of them decodes.

    Checked here because a stream of files none of which decode would repeat forever
    without yielding a batch. Files are tried in order until one decodes: usually one.
    """
    root = Path(root)
    paths = list_image_folder(root)
    with warnings.catch_warnings():
        treat_large_images_as_too_large()
        readable = any(isinstance(decode_or_reason(path, image_size, channels), np.ndarray) for path in paths)
    if not readable:
        raise _nothing_readable(root, paths)
    return ImageStream(paths, image_size, channels)


def open_training_data(root: str | Path, image_size: int, channels: int, cache: str) -> ImageSet | ImageStream:
    """The images to train on: decoded into memory (cache "memory") or streamed ("none")."""
    if cache == "none":
        return open_image_folder(root, image_size, channels)
    return load_image_folder(root, image_size, channels)
