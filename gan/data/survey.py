"""What a data set holds, as the pre-flight checklist reports it: exact duplicates,
near-constant images, grey images in a colour run and colour images in a grey one, and
too few images for the batch. Numpy only, once before training, never per step."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan.data.decode import decode_or_reason, treat_large_images_as_too_large

NEAR_CONSTANT_STD = 2.0  # pixel standard deviation, in 0..255, below which an image is flat
COLOUR_SAMPLE = 64  # files decoded in colour to tell whether a grey run throws colour away
SURVEY_SIZE = 32  # the size those samples are decoded at: enough to see colour, cheap
MOSTLY = 0.5  # the share of images above which the data "is" grey or colour
NOTABLE = 0.01  # duplicates or flat images worth a warning: a few in thousands are normal in scraped sets
CHUNK = 1024  # images whose spread is computed at once: bounded memory for any set
FEW_BATCHES = 10  # fewer images than this many batches: the discriminator can learn them by heart


@dataclass(frozen=True)
class Survey:
    count: int
    duplicates: int  # images equal, pixel for pixel, to an earlier one
    near_constant: int
    grey: int  # images whose three channels are equal (colour runs only; else 0)
    colour_share: float | None  # of a sample of the files (grey runs only; else None)

    def warnings(self, channels: int, batch_size: int, mirrored: bool = False) -> list[str]:
        """One plain sentence per problem, with what to do about it."""
        found = []
        if self.duplicates > NOTABLE * self.count:
            found.append(f"{self.duplicates} of {self.count} images ({self.duplicates / self.count:.1%}) are exact "
                         "duplicates of others: they weigh more in training than the rest; remove them if unintended")
        if self.near_constant > NOTABLE * self.count:
            found.append(f"{self.near_constant} images are nearly one flat colour (pixel std < {NEAR_CONSTANT_STD:g}/255): "
                         "blank or failed files teach the generator blank images")
        if channels == 3 and self.grey > MOSTLY * self.count:
            found.append(f"{self.grey} of {self.count} images are grayscale, trained as RGB: "
                         "--channels 1 learns the same from a third of the input")
        if channels == 1 and self.colour_share is not None and self.colour_share > MOSTLY:
            found.append(f"{self.colour_share:.0%} of a sample of the files are in colour, trained as grayscale "
                         "(--channels 1): pass --channels 3 to keep the colour")
        if self.count < FEW_BATCHES * batch_size:
            remedies = "--diffaugment" if mirrored else (
                "--mirror (where a left-right flip is still a fair picture) or --diffaugment")
            found.append(f"only {self.count} images, fewer than {FEW_BATCHES} batches of {batch_size}: the "
                         "discriminator can learn them by heart and the generator then copies them; add images, "
                         f"or pass {remedies}")
        return found

    def summary(self) -> str:
        parts = [f"{self.count} images", f"{self.duplicates} exact duplicates", f"{self.near_constant} near-constant"]
        if self.colour_share is None:
            parts.append(f"{self.grey} grayscale")
        else:
            parts.append(f"{self.colour_share:.0%} of a sample in colour")
        return ", ".join(parts)


def survey_images(images: np.ndarray, files: list[Path] | None = None) -> Survey:
    """Survey decoded uint8 images (N, H, W, C). For a grey set (C = 1), `files` lets a
    sample of the originals be decoded in colour, to see what the grey decoding dropped."""
    seen, duplicates = set(), 0
    for image in images:
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        duplicates += digest in seen
        seen.add(digest)
    near_constant, grey = _flat_and_grey(images)
    colour_share = colour_share_of(files) if images.shape[-1] == 1 and files else None
    return Survey(len(images), duplicates, near_constant, grey, colour_share)


def _flat_and_grey(images: np.ndarray) -> tuple[int, int]:
    """How many images are near-constant, and how many colour ones have equal channels."""
    flat = grey = 0
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK]
        flat += int(np.sum(chunk.reshape(len(chunk), -1).std(axis=1, dtype=np.float32) < NEAR_CONSTANT_STD))
        if chunk.shape[-1] == 3:
            grey += int(np.sum(np.all(chunk[..., :1] == chunk, axis=(1, 2, 3))))
    return flat, grey


def decoded_sample(files: list[Path], count: int, image_size: int, channels: int) -> np.ndarray:
    """Up to `count` of `files`, evenly spread, decoded as training decodes them; the
    unreadable ones left out (the loader reports them)."""
    step = max(1, len(files) // count)
    with warnings.catch_warnings():
        treat_large_images_as_too_large()
        decoded = [decode_or_reason(path, image_size, channels) for path in files[::step][:count]]
    images = [image for image in decoded if isinstance(image, np.ndarray)]
    return np.stack(images) if images else np.zeros((0, image_size, image_size, channels), np.uint8)


def colour_share_of(files: list[Path]) -> float:
    """The share of an evenly spread sample of `files` whose colour channels differ."""
    samples = decoded_sample(files, COLOUR_SAMPLE, SURVEY_SIZE, 3)
    if not len(samples):
        return 0.0
    return float(np.mean(np.any(samples[..., :1] != samples, axis=(1, 2, 3))))
