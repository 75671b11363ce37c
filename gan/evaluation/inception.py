"""The standard FID feature network in Keras 3: InceptionV3 "2015-12-05" up to pool3.

This is the graph TTUR, stylegan2-ada/StyleGAN3 and StudioGAN compute FID with, not
Keras' ImageNet InceptionV3 (whose numbers compare with nobody's). The weights come as
an .npz of 94 convolutions, each `weight` (PyTorch OIHW), batch-norm `beta`, `mean` and
`var` (no gamma, epsilon 0.001), named after the TF graph (`conv` ... `mixed_10`).

Input convention, which decides the numbers (StyleGAN2-ADA's and StyleGAN3's): RGB pixels as
float in [0, 255]; if not 299x299, a bilinear resize in the TF1 legacy convention (output
pixel i samples the input at i * H / 299, no half-pixel offset, edges clamped, no
antialiasing, kept in float); then (x - 128) / 128. Backend-neutral: keras.ops only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.errors import UserError
from gan.settings.config import FID_WEIGHTS

if TYPE_CHECKING:
    import keras

SIZE = 299
FEATURES = 2048
BATCH = 50
WEIGHTS_NAME = Path(FID_WEIGHTS).name


def resize_matrix(source: int, target: int = SIZE) -> np.ndarray:
    """(target, source) weights of the TF1 legacy bilinear resize along one axis."""
    position = np.arange(target, dtype=np.float64) * source / target
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, source - 1)
    fraction = position - lower
    matrix = np.zeros((target, source), dtype=np.float64)
    np.add.at(matrix, (np.arange(target), lower), 1.0 - fraction)
    np.add.at(matrix, (np.arange(target), upper), fraction)
    return matrix.astype(np.float32)


def _conv_bn_relu(x, weights: dict, name: str, strides: int = 1):
    import keras

    kernel = np.transpose(weights[f"net.layers.{name}.weight"], (2, 3, 1, 0))  # OIHW -> HWIO
    conv = keras.layers.Conv2D(
        kernel.shape[-1], kernel.shape[:2], strides=strides,
        padding="valid" if strides == 2 or name in _VALID else "same", use_bias=False, name=f"{name}.conv2d",
    )
    x = conv(x)
    conv.set_weights([kernel])
    norm = keras.layers.BatchNormalization(scale=False, epsilon=1e-3, name=f"{name}.bn")
    x = norm(x)
    norm.set_weights([weights[f"net.layers.{name}.{key}"] for key in ("beta", "mean", "var")])
    return keras.layers.ReLU(name=f"{name}.relu")(x)


# The stem's unpadded 3x3 convolutions (every other convolution is "same"-padded or strided).
_VALID = {"conv", "conv_1", "conv_4"}


def _average_pool(x):
    import keras

    # TF's "same" average pooling leaves the padding out of the count, like count_include_pad=False.
    return keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)


def _max_pool(x, strides: int = 2):
    import keras

    return keras.layers.MaxPooling2D(3, strides=strides, padding="valid" if strides == 2 else "same")(x)


def build_fid_inception(weights: dict) -> "keras.Model":
    """The network, normalised 299x299x3 input -> 2048 pool3 features, with `weights` set."""
    import keras

    def c(x, name, strides=1):
        return _conv_bn_relu(x, weights, name, strides)

    def concat(*branches):
        return keras.layers.Concatenate()(list(branches))

    inputs = keras.Input((SIZE, SIZE, 3))
    x = c(inputs, "conv", 2)
    x = c(x, "conv_1")
    x = c(x, "conv_2")
    x = _max_pool(x)
    x = c(x, "conv_3")
    x = c(x, "conv_4")
    x = _max_pool(x)
    for block in ("mixed", "mixed_1", "mixed_2"):  # 35x35
        x = concat(
            c(x, f"{block}.conv"),
            c(c(x, f"{block}.tower.conv"), f"{block}.tower.conv_1"),
            c(c(c(x, f"{block}.tower_1.conv"), f"{block}.tower_1.conv_1"), f"{block}.tower_1.conv_2"),
            c(_average_pool(x), f"{block}.tower_2.conv"),
        )
    x = concat(  # 35x35 -> 17x17
        c(x, "mixed_3.conv", 2),
        c(c(c(x, "mixed_3.tower.conv"), "mixed_3.tower.conv_1"), "mixed_3.tower.conv_2", 2),
        _max_pool(x),
    )
    for block in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):  # 17x17, factorised 7x7
        tower = c(c(c(x, f"{block}.tower.conv"), f"{block}.tower.conv_1"), f"{block}.tower.conv_2")
        tower_1 = c(x, f"{block}.tower_1.conv")
        for layer in ("conv_1", "conv_2", "conv_3", "conv_4"):
            tower_1 = c(tower_1, f"{block}.tower_1.{layer}")
        x = concat(c(x, f"{block}.conv"), tower, tower_1, c(_average_pool(x), f"{block}.tower_2.conv"))
    tower_1 = c(x, "mixed_8.tower_1.conv")
    for layer in ("conv_1", "conv_2"):
        tower_1 = c(tower_1, f"mixed_8.tower_1.{layer}")
    x = concat(  # 17x17 -> 8x8
        c(c(x, "mixed_8.tower.conv"), "mixed_8.tower.conv_1", 2),
        c(tower_1, "mixed_8.tower_1.conv_3", 2),
        _max_pool(x),
    )
    for block, pool in (("mixed_9", _average_pool), ("mixed_10", lambda t: _max_pool(t, strides=1))):  # 8x8
        tower = c(x, f"{block}.tower_conv")
        tower_1 = c(c(x, f"{block}.tower_1_conv"), f"{block}.tower_1_conv_1")
        x = concat(
            c(x, f"{block}.conv"),
            concat(c(tower, f"{block}.tower_mixed_conv"), c(tower, f"{block}.tower_mixed_conv_1")),
            concat(c(tower_1, f"{block}.tower_1_mixed_conv"), c(tower_1, f"{block}.tower_1_mixed_conv_1")),
            c(pool(x), f"{block}.tower_2_conv"),
        )
    features = keras.layers.GlobalAveragePooling2D(name="pool3")(x)
    return keras.Model(inputs, features, name="fid_inception")


def load_weights(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"no FID Inception weights at {path}: run `python get_inception.py` once (downloads and "
            f"converts TensorFlow's inception-2015-12-05 graph) or pass --inception-weights FILE ({WEIGHTS_NAME})"
        )
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable .npz of Inception weights: {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy file loads as one bare array
        raise UserError(f"{path} is not a readable .npz of Inception weights: it holds one array, not named ones")
    with archive:
        return {key: archive[key] for key in archive.files}


class FIDFeatures:
    """Callable: uint8 or float RGB images (N, H, W, 3) in [0, 255] -> (N, 2048) float64."""

    def __init__(self, weights: dict):
        self.network = build_fid_inception(weights)
        self._resizers: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _prepare(self, images: np.ndarray):
        from keras import ops

        pixels = ops.convert_to_tensor(np.asarray(images, dtype=np.float32))
        height, width = images.shape[1:3]
        if (height, width) != (SIZE, SIZE):
            if (height, width) not in self._resizers:
                self._resizers[(height, width)] = (resize_matrix(height), resize_matrix(width))
            rows, cols = self._resizers[(height, width)]
            pixels = ops.einsum("ih,nhwc,jw->nijc", rows, pixels, cols)
        return (pixels - 128.0) / 128.0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected RGB images (N, H, W, 3); received shape {images.shape}")
        outputs = [
            np.asarray(self.network(self._prepare(images[i : i + BATCH]), training=False), dtype=np.float64)
            for i in range(0, len(images), BATCH)
        ]
        return np.concatenate(outputs) if outputs else np.zeros((0, FEATURES))


def load_fid_features(path: str | Path) -> FIDFeatures:
    """The FID network with the weights of the .npz at `path`. Any readable .npz loads, so
    one of other weights (a different network, another converter's names) fails in the
    build: that is reported as the file's fault, in one line."""
    weights = load_weights(path)
    try:
        return FIDFeatures(weights)
    except (KeyError, ValueError) as error:
        detail = f"no array {error}" if isinstance(error, KeyError) else str(error).strip().splitlines()[0]
        raise UserError(f"{path} does not hold the FID Inception weights that get_inception.py writes ({detail})") from None

