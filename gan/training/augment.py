"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
Training", 2020): random, differentiable changes to every image the discriminator sees,
real and generated alike, in both its updates and the generator's. The discriminator can
no longer memorise a small data set, and since the changes are differentiable the
generator still learns through them. keras.ops and keras.random only, so it compiles into
the training step, and the noise state it draws from is saved with each checkpoint.
"""

from __future__ import annotations

import keras

from gan.training.tensors import Tensor
from keras import ops

TRANSLATION_RATIO = 0.125  # shift by up to 1/8 of the image size
CUTOUT_RATIO = 0.5  # erase a square half the image size


def _per_image(images, seed_generator, low=0.0, high=1.0):
    return keras.random.uniform((ops.shape(images)[0], 1, 1, 1), low, high, seed=seed_generator)


def color(images: Tensor, seed_generator: keras.random.SeedGenerator) -> Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image."""
    images = images + _per_image(images, seed_generator, -0.5, 0.5)
    mean = ops.mean(images, axis=-1, keepdims=True)
    images = (images - mean) * _per_image(images, seed_generator, 0.0, 2.0) + mean
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _per_image(images, seed_generator, 0.5, 1.5) + mean


def _shift_matrix(size: int, shifts, reflect: bool):
    """(B, size, size) 0/1 matrices that read row i + shift; past the edge nothing, or with
    `reflect` the row mirrored back across it (-1 reads 1; size reads size - 2)."""
    source = ops.arange(size)[None, :, None] + shifts[:, None, None]
    if reflect:
        source = (size - 1) - ops.abs((size - 1) - ops.abs(source))
    columns = ops.arange(size)[None, None, :]
    return ops.cast(ops.equal(columns, source), "float32")


def translation(images: Tensor, seed_generator: keras.random.SeedGenerator, reflect: bool = False) -> Tensor:
    """Shift each image by up to 1/8 of its size in each direction, filling the gap with
    zeros (DiffAugment's) or, with `reflect`, with the image mirrored across its edge."""
    height, width = images.shape[1], images.shape[2]
    limit_y, limit_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    batch = (ops.shape(images)[0],)
    shift_y = keras.random.randint(batch, -limit_y, limit_y + 1, seed=seed_generator)
    shift_x = keras.random.randint(batch, -limit_x, limit_x + 1, seed=seed_generator)
    rows, columns = _shift_matrix(height, shift_y, reflect), _shift_matrix(width, shift_x, reflect)
    return ops.einsum("bih,bhwc,bjw->bijc", rows, images, columns)


def cutout(images: Tensor, seed_generator: keras.random.SeedGenerator) -> Tensor:
    """Erase (set to 0) a square of half the image size at a random place in each image."""
    height, width = images.shape[1], images.shape[2]
    half_y, half_x = int(height * CUTOUT_RATIO + 0.5) // 2, int(width * CUTOUT_RATIO + 0.5) // 2
    batch = (ops.shape(images)[0],)
    centre_y = keras.random.randint(batch, 0, height, seed=seed_generator)[:, None, None, None]
    centre_x = keras.random.randint(batch, 0, width, seed=seed_generator)[:, None, None, None]
    rows = ops.arange(height)[None, :, None, None]
    columns = ops.arange(width)[None, None, :, None]
    inside_rows = ops.logical_and(rows - centre_y >= -half_y, rows - centre_y < half_y)
    inside_columns = ops.logical_and(columns - centre_x >= -half_x, columns - centre_x < half_x)
    inside = ops.logical_and(inside_rows, inside_columns)
    return images * ops.cast(ops.logical_not(inside), images.dtype)


def flip(images: Tensor, seed_generator: keras.random.SeedGenerator) -> Tensor:
    """Mirror each image left to right, with probability 1/2."""
    flipped = _per_image(images, seed_generator) < 0.5
    return ops.where(flipped, ops.flip(images, axis=2), images)


def consistency_transform(images: Tensor, seed_generator: keras.random.SeedGenerator) -> Tensor:
    """The change bCR asks the discriminator to ignore (Zhao et al., "Improved Consistency
    Regularization for GANs", 2020): a random left-right flip, then a shift by up to 1/8,
    the gap filled by reflection. Zeros would leave a flat frame that the discriminator must
    score as it scores the image without one; on the faces the generator drew such frames
    within 300 steps, and with reflection it did not."""
    return translation(flip(images, seed_generator), seed_generator, reflect=True)


AUGMENTATIONS = {"color": color, "translation": translation, "cutout": cutout}  # config.AUGMENT_POLICIES


def diff_augment(images: Tensor, policy: tuple[str, ...], seed_generator: keras.random.SeedGenerator) -> Tensor:
    for name in policy:
        images = AUGMENTATIONS[name](images, seed_generator)
    return images
