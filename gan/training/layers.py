"""Layers Keras does not have, registered so that a saved network loads with safe_mode."""

from __future__ import annotations

import keras
from keras import ops

STDDEV_EPSILON = 1e-8  # inside the square root, as StyleGAN2 has it: a finite gradient at zero spread


@keras.saving.register_keras_serializable(package="dcgan_studio")
class MinibatchStdDev(keras.layers.Layer):
    """Appends one feature map: how much the images of a small group differ from each
    other (Karras et al. 2018, as StyleGAN2-ADA computes it).

    The batch is split into groups of `group_size` (image i joins group i mod N/G); each
    group's per-feature standard deviation across its images is averaged over channels
    and pixels into one number, broadcast as an extra channel to every image of the
    group. A generator that makes one face for every noise vector gives a batch of
    near-zero spread here, which the discriminator can then see and punish.
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        if group_size < 1:
            raise ValueError(f"group_size must be at least 1; received {group_size}")
        self.group_size = group_size

    def call(self, x):
        batch, height, width, channels = ops.shape(x)
        group = min(self.group_size, batch) if isinstance(batch, int) else self.group_size
        # Float32 statistics: in bfloat16 a small spread rounds to zero.
        y = ops.reshape(ops.cast(x, "float32"), (group, -1, height, width, channels))
        y = ops.sqrt(ops.mean(ops.square(y - ops.mean(y, axis=0)), axis=0) + STDDEV_EPSILON)
        y = ops.mean(y, axis=(1, 2, 3))  # one value per group
        y = ops.tile(ops.reshape(y, (1, -1, 1, 1, 1)), (group, 1, height, width, 1))
        y = ops.reshape(y, (batch, height, width, 1))
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "group_size": self.group_size}
