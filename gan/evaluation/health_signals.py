"""What a health check measures of the samples a training step made against a fixed set
of real ones: how varied they are, how far their pixel values and their spatial spectrum
sit from the real data's.

The spectrum is compared twice: averaged over directions (how fine the detail is) and
whole (where in the picture's frequencies the power sits). A generator that has settled
on a repeating pattern, such as blobs on a lattice, can match the data's pixel values
and its power at each radius while the whole spectrum, with peaks at the lattice's
frequencies, stays far from the data's.

Every signal is a ratio or a difference of logarithms, so one threshold serves digits
and faces, 16 and 128 pixels, grey and colour. Images are averaged down to at most
SIDE x SIDE first: the signals are about the picture, not its finest pixels, and cost
the same at every size (well under a millisecond per image on a CPU).
"""

from __future__ import annotations

import numpy as np

SIDE = 32  # images are area-averaged down to at most this many pixels a side
QUANTILES = np.linspace(0.01, 0.99, 99)


def shrink(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) pixels in [-1, 1] as float32, area-averaged to at most SIDE a side."""
    images = np.asarray(images, dtype=np.float32)
    factor = max(1, images.shape[1] // SIDE)
    if factor == 1:
        return images
    h, w = images.shape[1] // factor * factor, images.shape[2] // factor * factor
    # A sum of strided views: several times faster than a mean over a reshaped array's inner axes.
    total = sum(images[:, dy:h:factor, dx:w:factor] for dy in range(factor) for dx in range(factor))
    return total / factor**2


def mean_pairwise_distance(images: np.ndarray) -> float:
    """The mean L2 distance between two different images of the set, per pixel value (0
    for a set of one)."""
    if len(images) < 2:
        return 0.0
    flat = images.reshape(len(images), -1).astype(np.float64)
    squares = (flat**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * flat @ flat.T, 0))
    n = len(images)
    return float(distances.sum() / (n * (n - 1)) / np.sqrt(flat.shape[1]))


def power_spectrum(images: np.ndarray) -> np.ndarray:
    """The images' mean power at each spatial frequency (H, W), each image's mean removed."""
    import scipy.fft  # in float32, about ten times numpy's float64 FFT here

    centred = images - images.mean(axis=(1, 2), keepdims=True)
    transform = scipy.fft.fft2(centred, axes=(1, 2))
    return (transform.real**2 + transform.imag**2).mean(axis=(0, 3), dtype=np.float64)


def log_spectrum(power: np.ndarray) -> np.ndarray:
    """A power spectrum's mean at each frequency radius, as log10 (one value per radius):
    real images fall off with frequency; noise is flat."""
    h, w = power.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    radius = np.minimum(np.rint(np.hypot(fy, fx)).astype(int), min(h, w) // 2)
    totals = np.bincount(radius.ravel(), weights=power.ravel())
    counts = np.bincount(radius.ravel())
    return np.log10(totals[1:] / counts[1:] + 1e-12)


def log_power(power: np.ndarray) -> np.ndarray:
    """A power spectrum at every frequency but the zero one (removed with each image's
    mean), as log10: the whole layout of the power, not its radial average."""
    return np.log10(power.ravel()[1:] + 1e-12)


def pixel_quantiles(images: np.ndarray) -> np.ndarray:
    """Each channel's pixel-value quantiles, (C, len(QUANTILES))."""
    channels = images.shape[-1]
    # One sort and numpy's linear interpolation by hand: np.quantile partitions once per quantile.
    ordered = np.sort(images.reshape(-1, channels).T, axis=1)
    positions = QUANTILES * (ordered.shape[1] - 1)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, ordered.shape[1] - 1)
    weight = (positions - below).astype(np.float32)
    return ordered[:, below] * (1 - weight) + ordered[:, above] * weight


class RealReference:
    """The real images' side of every signal, computed once per run."""

    def __init__(self, reals: np.ndarray):
        small = shrink(reals)
        power = power_spectrum(small)
        self.diversity = mean_pairwise_distance(small)
        self.spectrum, self.power = log_spectrum(power), log_power(power)
        self.quantiles = pixel_quantiles(small)

    def signals(self, fakes: np.ndarray) -> dict[str, float]:
        """The fakes' signals.

        diversity: the fakes' mean pairwise distance over the reals' (1: as varied as the
            data; near 0: all alike).
        spectrum_gap: the mean absolute log10 difference of their spectra averaged over
            directions (0: the data's).
        structure_gap: the same of their whole spectra, frequency by frequency.
        pixel_gap: the mean distance between their pixel-value quantiles, per unit of the
            [-1, 1] range (0: the data's values).
        """
        small = shrink(fakes)
        power = power_spectrum(small)
        return {
            "diversity": mean_pairwise_distance(small) / max(self.diversity, 1e-8),
            "spectrum_gap": float(np.abs(log_spectrum(power) - self.spectrum).mean()),
            "structure_gap": float(np.abs(log_power(power) - self.power).mean()),
            "pixel_gap": float(np.abs(pixel_quantiles(small) - self.quantiles).mean() / 2),
        }
