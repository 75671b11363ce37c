"""The recipe's numbers, without Keras: filters per block at each image size, the
batch-norm, LeakyReLU and Adam constants, the learning rates and the label noise.

Kept apart from gan.training.networks so that bench/torch_reference.py builds the same
networks in PyTorch on a machine where importing Keras would start another framework.
"""

from __future__ import annotations

import math

BATCH_NORM_MOMENTUM = 0.5  # the recipe's; Keras' default 0.99 adapts far too slowly here
BATCH_NORM_EPSILON = 1e-3  # Keras' default, which the recipe keeps
LEAKY_SLOPE = 0.2
ADAM_BETA_1 = 0.5
GENERATOR_LEARNING_RATE = 1.5e-4  # the recipe's, for the generator and the combined model
DISCRIMINATOR_LEARNING_RATE = 2e-4
LABEL_NOISE = 0.2  # real labels 1 - U(0, 0.2), fake labels U(0, 0.2)
MIN_IMAGE_SIZE = 16


def check_image_size(image_size: int) -> None:
    """Raise ValueError unless the size is a power of two the network blocks can reach."""
    if image_size < MIN_IMAGE_SIZE or image_size & (image_size - 1):
        raise ValueError(
            f"image size must be a power of two of at least {MIN_IMAGE_SIZE} "
            f"(e.g. 32, 64, 128); received {image_size}"
        )


def block_filters(image_size: int, width: float = 1.0) -> list[int]:
    """Filters of the stride-2 blocks, from the 4x4 end to the image end.

    64 -> [512, 256, 128, 64] as in the recipe; 32 -> [256, 128, 64];
    128 -> [512, 512, 256, 128, 64]. `width` scales every block, as the PyTorch DCGAN
    tutorial's ngf and ndf do (64 there is width 1 here): 32 at width 2 -> [512, 256, 128].
    """
    check_image_size(image_size)
    blocks = int(math.log2(image_size)) - 2
    return [max(1, round(min(64 * 2**i, 512) * width)) for i in reversed(range(blocks))]
