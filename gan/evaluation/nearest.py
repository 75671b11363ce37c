"""Does a generator copy its training images? Each fake's nearest training images in
Inception feature space, and a copy score.

A fake that is a copy sits (almost) on a training image; a new face sits about as far from
the training set as a real face the network never saw. So the score compares the two
distances to the nearest training image: of the fakes, and of unseen real images (a
held-out folder; without one, each training image's distance to its nearest other, the
same question asked leave-one-out, which errs towards "new": within one sample nearest
neighbours sit closer than an outsider's, so pass held-out images for a fair yardstick).
The ratio of their medians is about 1 for a generator
that makes new images and 0 for one that returns its training set; the Mann-Whitney z of
the two samples (Meehan, Chaudhuri and Dasgupta 2020, "A non-parametric test to detect
data-copying") says whether fakes sit closer than unseen images beyond chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from gan.evaluation.metrics import pairwise_distances
from gan.pictures.grids import make_grid, upscale

NEIGHBOURS = 3  # training images shown beside each fake
COPYING_RATIO = 0.5  # fakes at under half the unseen images' distance: copies
MIN_TILE = 64  # pixels: the least width a picture's image is shown at
CLOSER_Z = -3.0  # fakes closer than unseen images at three standard errors: overfitting, watch it


def nearest(queries: np.ndarray, references: np.ndarray, k: int, leave_one_out: bool = False,
            batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of each query's k nearest references, nearest first. With
    `leave_one_out` the queries are the references, and each one's own row is skipped."""
    indices, distances = [], []
    for start in range(0, len(queries), batch):
        block = pairwise_distances(queries[start : start + batch], references)
        if leave_one_out:
            block[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        order = np.argsort(block, axis=1)[:, :k]
        indices.append(order)
        distances.append(np.take_along_axis(block, order, axis=1))
    return np.concatenate(indices), np.concatenate(distances)


@dataclass(frozen=True)
class CopyReport:
    fake_to_train: np.ndarray  # each fake's distance to its nearest training image
    unseen_to_train: np.ndarray  # each unseen real image's (or, leave-one-out, each training image's)
    unseen: str  # what the unseen images were, for the report

    @property
    def ratio(self) -> float:
        """Median distance of the fakes over that of the unseen images: ~1 new, ~0 copies;
        NaN when the unseen images' median is 0 (most sit exactly on a training image), as
        such a yardstick measures nothing."""
        yardstick = float(np.median(self.unseen_to_train))
        return float(np.median(self.fake_to_train)) / yardstick if yardstick > 0 else math.nan

    @property
    def z(self) -> float:
        """Mann-Whitney z of fakes against unseen images; very negative: fakes sit closer."""
        n, m = len(self.fake_to_train), len(self.unseen_to_train)
        u = stats.mannwhitneyu(self.fake_to_train, self.unseen_to_train).statistic
        return float((u - n * m / 2) / np.sqrt(n * m * (n + m + 1) / 12))

    @property
    def verdict(self) -> str:
        if math.isnan(self.ratio):
            return (f"no yardstick: most of the {self.unseen} sit exactly on a training image (duplicates "
                    "in the training set?); pass held-out images with --real")
        if self.ratio < COPYING_RATIO:
            return "copying: the fakes sit on training images"
        if self.z < CLOSER_Z:
            return "closer to the training images than unseen images are: some memorisation"
        return "no sign of copying: the fakes sit as far from the training set as unseen images do"

    def summary(self) -> str:
        return (
            f"copy score {self.ratio:.2f} (median distance to the nearest training image: fakes "
            f"{np.median(self.fake_to_train):.2f}, {self.unseen} {np.median(self.unseen_to_train):.2f}; "
            f"Mann-Whitney z {self.z:+.1f}): {self.verdict}"
        )


def copy_report(fake: np.ndarray, train: np.ndarray, unseen: np.ndarray | None) -> CopyReport:
    """The copy score of `fake` features against the `train` features, with `unseen`
    real features as the yardstick (None: the training set leave-one-out)."""
    fake_to_train = nearest(fake, train, 1)[1][:, 0]
    if unseen is None:
        return CopyReport(fake_to_train, nearest(train, train, 1, leave_one_out=True)[1][:, 0],
                          "training images to their nearest other")
    return CopyReport(fake_to_train, nearest(unseen, train, 1)[1][:, 0], "unseen images")


def nearest_picture(fakes: np.ndarray, train: np.ndarray, indices: np.ndarray, min_tile: int = MIN_TILE) -> np.ndarray:
    """One row per fake: the fake, then its nearest training images, nearest first; small
    images enlarged by a whole factor (pixels kept sharp) to at least `min_tile` wide,
    so that a 32x32 fake and its neighbours can be told apart by eye."""
    rows = [np.concatenate([fake[np.newaxis], train[neighbours]]) for fake, neighbours in zip(fakes, indices)]
    factor = max(1, math.ceil(min_tile / fakes.shape[2]))
    return make_grid(upscale(np.concatenate(rows), factor), cols=1 + indices.shape[1])
