"""What a training step does differently when it runs as one of several TensorFlow
replicas (tf.distribute, `--distribute`), each on its share of the global batch.

JAX needs none of it: under keras.distribution.DataParallel, jax.jit traces one program
over the global batch and XLA partitions it, so each function here is the identity
there, as it is on TensorFlow with a single replica (runs without --distribute are
unchanged to the bit).
"""

from __future__ import annotations

import keras
from keras import ops

# Replica r's seeds are offset by r strides: its stream is no other replica's, nor, for
# nearby --seed values, another run's replica's.
REPLICA_SEED_STRIDE = 1_000_003


def _replica_context():
    """The tf.distribute replica context when there are several replicas, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return context if context is not None and context.num_replicas_in_sync > 1 else None


def several_replicas() -> bool:
    """Whether the step is being traced as one of several TensorFlow replicas."""
    return _replica_context() is not None


def gradient_share(loss: Tensor) -> Tensor:
    """This replica's part of the loss to differentiate.

    Keras' TensorFlow optimizer sums the replicas' gradients (an all-reduce in `apply`),
    so each replica's loss, a mean over its share of the batch, is divided by the
    replica count: the sum is then the gradient of the global batch's mean loss.
    """
    context = _replica_context()
    return loss if context is None else loss / context.num_replicas_in_sync


def global_means(figures: dict) -> dict:
    """Each scalar figure (a loss, a mean output) as the mean over the replicas: the
    global batch's, and the same on every replica, so that decisions taken from it
    inside the step (undoing a non-finite step) are taken alike everywhere."""
    context = _replica_context()
    if context is None:
        return figures
    import tensorflow as tf

    names = list(figures)
    reduced = context.all_reduce(tf.distribute.ReduceOp.MEAN, [figures[name] for name in names])
    return dict(zip(names, reduced))


def overflow_everywhere(optimizer: keras.optimizers.Optimizer, gradients: list) -> list:
    """The gradients, made non-finite on every replica when they are on any, for a loss-
    scaling optimizer.

    Keras' LossScaleOptimizer under tf.distribute decides from the first replica's own
    gradients whether to step or to halve the loss scale (Keras 3.15), before the
    replicas' gradients are summed: a float16 overflow on another replica would reach
    the weights, and the scale would never shrink. Sharing the overflow (one scalar
    all-reduce) makes every replica skip the step alike.
    """
    context = _replica_context()
    if context is None or not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return gradients
    import tensorflow as tf

    finite = ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in gradients]))
    overflows = context.all_reduce(tf.distribute.ReduceOp.SUM, ops.cast(ops.logical_not(finite), "float32"))
    return [ops.where(overflows > 0, ops.full_like(g, float("nan")), g) for g in gradients]


class SeedGenerator(keras.random.SeedGenerator):
    """keras.random.SeedGenerator whose draws differ between replicas.

    The state is mirrored (the same on every replica and in a checkpoint) and steps as
    Keras' does; each replica offsets the seed it hands out by its index, so the
    replicas draw different noise and labels for their shares of the batch instead of
    the same ones. Replica 0, and any single-replica run, draws what Keras' would.
    """

    def next(self, ordered: bool = True) -> Tensor:
        seed = super().next(ordered)
        context = _replica_context()
        if context is None:
            return seed
        offset = ops.cast(context.replica_id_in_sync_group, seed.dtype) * REPLICA_SEED_STRIDE
        return seed + ops.stack([offset, ops.zeros_like(offset)])
