"""evaluate.py's library side: features of real folders (cached) and of a generator's
samples, the metrics between them, and the run's metrics.jsonl."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.data.decode import find_image_files
from gan.data.folders import image_folder_chunks, list_image_folder
from gan.errors import UserError
from gan.evaluation import metrics
from gan.evaluation.inception import BATCH
from gan.pictures.grids import to_uint8
from gan.runs.atomic import atomic_write
from gan.settings.config import CACHE_ROOT

if TYPE_CHECKING:
    import keras

FeatureFunction = Callable[[np.ndarray], np.ndarray]
SMALL_SAMPLE = 2048  # below the feature dimension the covariance is singular
CACHE_VERSION = 1  # bump when the feature pipeline changes, to orphan old cache entries
FOLDER_CHUNK = BATCH  # files decoded at a time: one network batch, so memory holds one batch of images
FEATURE_BATCH = 250  # generated images (and images sent to the network) at a time


def cache_folder() -> Path:
    """Where real-image features are cached: $DCGAN_STUDIO_CACHE or ~/.cache/dcgan-studio."""
    root = os.environ.get("DCGAN_STUDIO_CACHE") or CACHE_ROOT
    return Path(root) / "features"


def _folder_key(folder: Path, image_size: int | None, weights_id: str, channels: int) -> str:
    """Changes whenever a file is added, removed, rewritten or the settings differ. Native
    size is spelt "native", which no size (a number) can be, so the entries never mix."""
    size = "native" if image_size is None else str(image_size)
    grey = "" if channels == 3 else " grey"  # colour entries keep the key they had before channels counted
    digest = hashlib.sha256(f"v{CACHE_VERSION} {size} {weights_id}{grey}".encode())
    for path in find_image_files(folder):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def features_by_size(images: list[np.ndarray], features: FeatureFunction) -> np.ndarray:
    """Features of images of any sizes, in their order: the images of each (height, width)
    go to `features` together, so each goes through the network's resize from its own size,
    exactly as it would alone."""
    by_size: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_size.setdefault(image.shape, []).append(index)
    grouped = np.concatenate([features(np.stack([images[i] for i in group])) for group in by_size.values()])
    return grouped[np.argsort(np.concatenate(list(by_size.values())))]


def _as_rgb(images: list[np.ndarray]) -> list[np.ndarray]:
    return [np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image for image in images]


def _compute_folder_features(folder: Path, image_size: int | None, features: FeatureFunction, channels: int) -> np.ndarray:
    """Chunk by chunk, so memory holds one chunk of decoded images whatever the folder's length."""
    parts = [
        features_by_size(_as_rgb(images), features)
        for images in image_folder_chunks(folder, image_size, channels, FOLDER_CHUNK)
        if images
    ]
    return np.concatenate(parts)


def folder_features(
    folder: Path, image_size: int | None, features: FeatureFunction, weights_id: str, channels: int = 3
) -> np.ndarray:
    """Features of every image in `folder` (RGB; grey files as grey RGB), computed once per
    content and settings, in file order, unreadable files left out. With `channels` 1
    every image is made grey first, as a grayscale run decodes its colour data, so that a
    grey generator is judged against what it was trained on, not against colour.

    At `image_size` every image is first resized to it (Pillow bicubic, as training
    decodes), to compare with a run's samples at the run's size. At None each image keeps
    its own size and only the network's standard resize to 299 touches it, as the
    reference FID pipeline does for two folders; a folder of mixed sizes is grouped by
    size, and every image still goes through the resize from its own size.
    """
    cached = cache_folder() / f"{_folder_key(Path(folder), image_size, weights_id, channels)}.npy"
    if cached.is_file():
        return np.load(cached)
    result = _compute_folder_features(Path(folder), image_size, features, channels)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cached) as partial, open(partial, "wb") as file:
        np.save(file, result.astype(np.float32))
    return result


def _generated_batches(generator: "keras.Model", count: int, seed: int) -> Iterator[np.ndarray]:
    """`count` samples of seed `seed`, quantised to uint8 as saved images are, a batch at a time."""
    from gan.pictures.latent import generate, seed_noise

    noise = seed_noise(seed, count, tuple(generator.input_shape[1:]))
    for start in range(0, count, FEATURE_BATCH):
        yield to_uint8(generate(generator, noise[start : start + FEATURE_BATCH]))


def generated_pixels(generator: "keras.Model", count: int, seed: int = 0) -> np.ndarray:
    """`count` samples of seed `seed`, quantised to uint8 as saved images are."""
    return np.concatenate(list(_generated_batches(generator, count, seed)))


def pixel_features(pixels: np.ndarray, features: FeatureFunction) -> np.ndarray:
    """Features of uint8 images of one size, grey as RGB, a batch at a time."""
    return np.concatenate([features(np.stack(_as_rgb(list(pixels[start : start + FEATURE_BATCH]))))
                           for start in range(0, len(pixels), FEATURE_BATCH)])


def generator_features(generator: "keras.Model", count: int, features: FeatureFunction, seed: int = 0) -> np.ndarray:
    """Features of `count` samples, as `generated_pixels` makes them; memory holds one
    batch of images whatever `count`."""
    return np.concatenate([pixel_features(pixels, features) for pixels in _generated_batches(generator, count, seed)])


def compare(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """FID, KID (mean and std over subsets), precision and recall of two feature sets."""
    try:
        kid_mean, kid_std = metrics.kid(real, fake)
        precision, recall = metrics.precision_recall(real, fake)
        return {
            "fid": metrics.fid(real, fake), "kid": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall, "n_real": len(real), "n_fake": len(fake),
        }
    except ValueError as error:
        raise UserError(str(error)) from None


def append_metrics(run: Path, record: dict) -> None:
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}) + "\n")


def format_metrics(result: dict[str, float]) -> str:
    text = (
        f"FID {result['fid']:.2f}  KID {result['kid'] * 1000:.2f} ± {result['kid_std'] * 1000:.2f} (x1e-3)  "
        f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
        f"({result['n_fake']} generated vs {result['n_real']} real)"
    )
    if min(result["n_fake"], result["n_real"]) < SMALL_SAMPLE:
        text += f"; FID is biased upwards below {SMALL_SAMPLE} samples: compare only at equal counts"
    return text


class Evaluator:
    """The FID network and one real folder's features, ready to score generators or folders.

    `image_size` is the size real (and scored folder) images are resized to first: a run's
    size, to score its generator; None keeps every image's own size (two folders).
    `channels` is the run's: 1 judges a grey generator against grey real images."""

    def __init__(self, weights: str | Path, real_folder: str | Path, image_size: int | None, channels: int = 3):
        from gan.evaluation.inception import load_fid_features

        list_image_folder(Path(real_folder))  # a wrong folder fails before the seconds the network takes
        weights = Path(weights)
        self.features = load_fid_features(weights)
        self.image_size, self.channels = image_size, channels
        self._weights_id = f"{weights.name}:{weights.stat().st_size}"
        self.real = folder_features(Path(real_folder), image_size, self.features, self._weights_id, channels)

    def score_generator(self, generator: "keras.Model", count: int, seed: int = 0) -> dict[str, float]:
        return compare(self.real, generator_features(generator, count, self.features, seed=seed))

    def folder(self, folder: str | Path) -> np.ndarray:
        """Features of another folder, decoded as the real one was."""
        return folder_features(Path(folder), self.image_size, self.features, self._weights_id, self.channels)

    def score_folder(self, folder: str | Path) -> dict[str, float]:
        return compare(self.real, self.folder(folder))
