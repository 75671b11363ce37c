"""Endless, seeded tf.data streams of training batches in [-1, 1]: from images held in
memory (shuffle indices, gather, scale, prefetch) or from files decoded as they are read.
Both run ahead of the training step, so the step never waits for its data."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.data.decode import decode_or_reason, treat_large_images_as_too_large

if TYPE_CHECKING:
    import tensorflow as tf


def _scale(pixels):
    """uint8 pixels -> float32 in [-1, 1], the recipe's x / 127.5 - 1."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def _mirrored_where(images, flipped):
    """Each image flipped left to right where `flipped` (one bool per image) is true."""
    import tensorflow as tf

    return tf.where(flipped[:, None, None, None], tf.reverse(images, axis=[2]), images)


def training_batches(images: np.ndarray, batch_size: int, seed: int, skip_batches: int = 0,
                     mirror: bool = False) -> "tf.data.Dataset":
    """An endless tf.data stream of float32 batches in [-1, 1], reproducible from `seed`.

    Indices, not images, are shuffled and batched (every image once per epoch, in a new
    order each epoch), so shuffling costs 8 bytes per image, not a copy of the pixels, and
    a resumed run skips the batches it has trained on without touching their pixels.
    `mirror` doubles the index range: index i + N is image i flipped left to right, so an
    epoch holds every image once each way (StyleGAN's --mirror) and a resume still skips
    by index, with no extra pixels held.
    """
    import tensorflow as tf

    pixels = tf.constant(images)
    count = len(images)
    copies = 2 if mirror else 1

    def gather_and_scale(indices):
        gathered = tf.gather(pixels, indices % count)
        return _scale(_mirrored_where(gathered, indices >= count) if mirror else gathered)

    return (
        tf.data.Dataset.range(count * copies)
        .shuffle(count * copies, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .skip(skip_batches)
        .map(gather_and_scale, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def streaming_batches(
    paths: list[Path], image_size: int, channels: int, batch_size: int, seed: int, skip_batches: int = 0,
    mirror: bool = False,
) -> "tf.data.Dataset":
    """An endless tf.data stream of float32 batches in [-1, 1] decoded from the files as
    they are read: for folders too big to hold in memory.

    The file list is shuffled each epoch (seeded), files are decoded by `decode_image`
    (the in-memory path's decoder, so both give the same pixels) in a parallel map, and
    unreadable files are dropped, each reported once. Memory holds the file names and a
    few batches, whatever the folder's size. A resumed run skips file names, not decoded
    batches (decoding them would cost as much as the steps did); if the skipped part held
    unreadable files, it resumes that many files earlier than an unbroken run would be.
    `mirror` lists each file twice, once to be flipped left to right, as in training_batches.
    """
    import tensorflow as tf

    # tf.data decodes in its own threads, where catch_warnings cannot be relied on, so the
    # in-memory path's "too large" rule is set for the whole process.
    treat_large_images_as_too_large()
    shape = (image_size, image_size, channels)
    reported = set()

    def decode(path: bytes) -> np.ndarray:
        """(1, *shape) uint8, or (0, *shape) for a file that cannot be used."""
        result = decode_or_reason(Path(os.fsdecode(path)), image_size, channels)
        if isinstance(result, np.ndarray):
            return result[np.newaxis]
        if path not in reported:
            reported.add(path)
            print(f"warning: {os.fsdecode(path)} skipped ({result})", file=sys.stderr)
        return np.zeros((0, *shape), np.uint8)

    def decode_in_pipeline(path, flipped):
        decoded = tf.ensure_shape(tf.numpy_function(decode, [path], tf.uint8), (None, *shape))
        return _mirrored_where(decoded, tf.fill(tf.shape(decoded)[:1], flipped))

    names = [os.fsencode(path) for path in paths]
    copies = 2 if mirror else 1
    flipped = [False] * len(names) + ([True] * len(names) if mirror else [])
    return (
        tf.data.Dataset.from_tensor_slices((names * copies, flipped))
        .shuffle(len(names) * copies, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .skip(skip_batches * batch_size)
        .map(decode_in_pipeline, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .batch(batch_size, drop_remainder=True)
        .map(_scale, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
