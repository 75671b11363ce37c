"""The recipe's architecture in numbers, without Keras: filters per block at each image
size, and the batch-norm, LeakyReLU and Adam constants.

Kept apart from gan.models so that bench/torch_reference.py builds the same networks in
PyTorch on a machine where importing Keras would start another framework.
"""

from __future__ import annotations

import math

from gan.config import check_image_size

BATCH_NORM_MOMENTUM = 0.5  # the recipe's; Keras' default 0.99 adapts far too slowly here
BATCH_NORM_EPSILON = 1e-3  # Keras' default, which the recipe keeps
LEAKY_SLOPE = 0.2
ADAM_BETA_1 = 0.5


def block_filters(image_size: int) -> list[int]:
    """Filters of the stride-2 blocks, from the 4x4 end to the image end.

    64 -> [512, 256, 128, 64] as in the recipe; 32 -> [256, 128, 64];
    128 -> [512, 512, 256, 128, 64].
    """
    check_image_size(image_size)
    blocks = int(math.log2(image_size)) - 2
    return [min(64 * 2**i, 512) for i in reversed(range(blocks))]
