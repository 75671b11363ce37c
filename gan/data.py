"""Folder of images -> a stream of training batches in [-1, 1].

The set is decoded once, in parallel, into one uint8 array held in memory (8,000 faces at
64x64x3 are 98 MB; 200,000 are 2.5 GB), so no step ever re-lists or re-decodes a file.
Pillow does the decoding because it reads every format and mode users bring (palette,
16-bit, CMYK, alpha, animated GIF/WebP); its decoders release the GIL, so a thread pool
decodes on every core. Batches come from a tf.data pipeline (seeded shuffle, repeat,
parallel gather and scaling, prefetch) that runs ahead of the training step.

A folder too big for memory is streamed instead (`--data-cache none`): tf.data reads and
decodes the files in parallel as training goes, with the same Pillow decoding, so only a
few batches are ever held.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
WHITE = 255


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

    def batches(self, batch_size: int, seed: int, skip_batches: int = 0):
        """The endless batch stream of `training_batches` over these images."""
        return training_batches(self.images, batch_size, seed, skip_batches)


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

    def batches(self, batch_size: int, seed: int, skip_batches: int = 0):
        """The endless batch stream of `streaming_batches` over these files."""
        return streaming_batches(self.paths, self.image_size, self.channels, batch_size, seed, skip_batches)


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


def decode_image(path: Path, image_size: int, channels: int) -> np.ndarray:
    """One file -> (size, size, channels) uint8; the first frame of an animation.

    Raises OSError (or a subclass of it) for anything that is not a usable image.
    """
    with Image.open(path) as image:
        image.seek(0)
        image.load()
        image = _to_mode(image, channels)
        image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
        return np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)


def _decode_or_reason(path: Path, image_size: int, channels: int) -> np.ndarray | str:
    """The decoded image, or why it was skipped. One bad file must never stop a run, and
    Pillow's decoders fail on malformed input with many exception types, hence the
    catch-all (fuzzed in the tests)."""
    try:
        return decode_image(path, image_size, channels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too large"
    except UnidentifiedImageError:
        return "not recognised as images"
    except Exception:
        return "corrupt or truncated"


def _treat_large_images_as_too_large() -> None:
    # Pillow only warns between 89 and 179 megapixels; treat those as too large too.
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def _list_folder(root: Path) -> list[Path]:
    """The folder's image files; raise UserError if the folder has none."""
    if not root.exists():
        raise UserError(f"--data: no such folder: {root}")
    if not root.is_dir():
        raise UserError(f"--data must be a folder of images; {root} is a file")
    paths = find_image_files(root)
    if not paths:
        raise UserError(
            f"--data: no image files ({', '.join(IMAGE_EXTENSIONS)}) found under {root}"
        )
    return paths


def load_image_folder(root: str | Path, image_size: int, channels: int, workers: int | None = None) -> ImageSet:
    """Decode every image under `root`; raise UserError if there is nothing to train on."""
    root = Path(root)
    paths = _list_folder(root)
    workers = workers or min(32, (os.cpu_count() or 1) * 2)
    with warnings.catch_warnings():
        _treat_large_images_as_too_large()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda p: _decode_or_reason(p, image_size, channels), paths))
    images = [r for r in results if isinstance(r, np.ndarray)]
    skipped = Counter(r for r in results if isinstance(r, str))
    if not images:
        raise UserError(f"--data: none of the {len(paths)} image files under {root} could be read")
    return ImageSet(np.stack(images), skipped)


def open_image_folder(root: str | Path, image_size: int, channels: int) -> ImageStream:
    """The folder's files, to stream; raise UserError unless at least one of them decodes.

    Checked here because a stream of files none of which decode would repeat forever
    without yielding a batch. Files are tried in order until one decodes: usually one.
    """
    root = Path(root)
    paths = _list_folder(root)
    with warnings.catch_warnings():
        _treat_large_images_as_too_large()
        readable = any(isinstance(_decode_or_reason(path, image_size, channels), np.ndarray) for path in paths)
    if not readable:
        raise UserError(f"--data: none of the {len(paths)} image files under {root} could be read")
    return ImageStream(paths, image_size, channels)


def open_training_data(root: str | Path, image_size: int, channels: int, cache: str) -> ImageSet | ImageStream:
    """The images to train on: decoded into memory (cache "memory") or streamed ("none")."""
    if cache == "none":
        return open_image_folder(root, image_size, channels)
    return load_image_folder(root, image_size, channels)


def _scale(pixels):
    """uint8 pixels -> float32 in [-1, 1], the recipe's x / 127.5 - 1."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def training_batches(images: np.ndarray, batch_size: int, seed: int, skip_batches: int = 0):
    """An endless tf.data stream of float32 batches in [-1, 1], reproducible from `seed`.

    Indices, not images, are shuffled and batched (every image once per epoch, in a new
    order each epoch), so shuffling costs 8 bytes per image, not a copy of the pixels, and
    a resumed run skips the batches it has trained on without touching their pixels.
    """
    import tensorflow as tf

    pixels = tf.constant(images)
    count = len(images)

    def gather_and_scale(indices):
        return _scale(tf.gather(pixels, indices))

    return (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .skip(skip_batches)
        .map(gather_and_scale, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def streaming_batches(
    paths: list[Path], image_size: int, channels: int, batch_size: int, seed: int, skip_batches: int = 0
):
    """An endless tf.data stream of float32 batches in [-1, 1] decoded from the files as
    they are read: for folders too big to hold in memory.

    The file list is shuffled each epoch (seeded), files are decoded by `decode_image`
    (the in-memory path's decoder, so both give the same pixels) in a parallel map, and
    unreadable files are dropped, each reported once. Memory holds the file names and a
    few batches, whatever the folder's size. A resumed run skips file names, not decoded
    batches (decoding them would cost as much as the steps did); if the skipped part held
    unreadable files, it resumes that many files earlier than an unbroken run would be.
    """
    import tensorflow as tf

    # tf.data decodes in its own threads, where catch_warnings cannot be relied on, so the
    # in-memory path's "too large" rule is set for the whole process.
    _treat_large_images_as_too_large()
    shape = (image_size, image_size, channels)
    reported = set()

    def decode(path: bytes) -> np.ndarray:
        """(1, *shape) uint8, or (0, *shape) for a file that cannot be used."""
        result = _decode_or_reason(Path(os.fsdecode(path)), image_size, channels)
        if isinstance(result, np.ndarray):
            return result[np.newaxis]
        if path not in reported:
            reported.add(path)
            print(f"warning: {os.fsdecode(path)} skipped ({result})", file=sys.stderr)
        return np.zeros((0, *shape), np.uint8)

    def decode_in_pipeline(path):
        return tf.ensure_shape(tf.numpy_function(decode, [path], tf.uint8), (None, *shape))

    return (
        tf.data.Dataset.from_tensor_slices([os.fsencode(path) for path in paths])
        .shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .skip(skip_batches * batch_size)
        .map(decode_in_pipeline, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .batch(batch_size, drop_remainder=True)
        .map(_scale, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
