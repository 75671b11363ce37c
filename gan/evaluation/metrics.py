"""Quality metrics on Inception features: FID, KID, and k-NN precision and recall.

All three compare a set of generated images with a set of real ones through the FID
network's 2048-d pool3 features (gan.evaluation.inception). FID and KID summarise both fidelity and
diversity in one number (lower is better); precision (are the fakes inside the real
manifold?) and recall (is the real manifold covered?) separate the two, so mode collapse
shows as low recall even when FID looks fine.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
NEAREST = 3  # k of the k-NN manifold estimate (Kynkaanniemi et al. 2019); MIN_EVAL_COUNT in gan.settings.config is k + 1


def _require(features: np.ndarray, minimum: int, metric: str) -> None:
    if len(features) < minimum:
        raise ValueError(f"{metric} needs at least {minimum} samples per set; received {len(features)}")


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, unbiased) of (N, D) features."""
    _require(features, 2, "FID")
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Frechet distance of two Gaussians."""
    with warnings.catch_warnings():
        # With fewer samples than dimensions the covariances are singular; sqrtm still
        # returns the standard (biased) estimate, which is what other FID code reports.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covariance_mean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if np.iscomplexobj(covariance_mean):
        covariance_mean = covariance_mean.real  # round-off makes tiny imaginary parts
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covariance_mean))


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


def kid(
    real: np.ndarray, fake: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: the unbiased MMD^2 with the cubic polynomial kernel
    k(x, y) = (x.y / d + 1)^3, averaged over random subsets; returns (mean, std)."""
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set; received {len(real)} and {len(fake)}")
    rng = np.random.default_rng(seed)
    dimensions = real.shape[1]
    estimates = []
    for _ in range(subsets):
        x = np.asarray(real[rng.choice(len(real), size, replace=False)], dtype=np.float64)
        y = np.asarray(fake[rng.choice(len(fake), size, replace=False)], dtype=np.float64)
        within = (x @ x.T / dimensions + 1) ** 3 + (y @ y.T / dimensions + 1) ** 3
        between = (x @ y.T / dimensions + 1) ** 3
        estimates.append(((within.sum() - np.trace(within)) / (size - 1) - between.sum() * 2 / size) / size)
    return float(np.mean(estimates)), float(np.std(estimates))


def _kth_neighbour_radii(features: np.ndarray, k: int, batch: int = 1000) -> np.ndarray:
    radii = np.empty(len(features))
    for start in range(0, len(features), batch):
        distances = pairwise_distances(features[start : start + batch], features)
        radii[start : start + batch] = np.partition(distances, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row of `a` to every row of `b`."""
    squared = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def _coverage(queries: np.ndarray, manifold: np.ndarray, radii: np.ndarray, batch: int = 1000) -> float:
    """The fraction of `queries` inside at least one of the manifold's k-NN balls."""
    inside = [
        (pairwise_distances(queries[start : start + batch], manifold) <= radii[None, :]).any(axis=1)
        for start in range(0, len(queries), batch)
    ]
    return float(np.concatenate(inside).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = NEAREST) -> tuple[float, float]:
    """Improved precision and recall (k-NN manifolds of real and fake features)."""
    for features in (real, fake):
        _require(features, k + 1, "precision and recall")
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = _coverage(fake, real, _kth_neighbour_radii(real, k))
    recall = _coverage(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall
