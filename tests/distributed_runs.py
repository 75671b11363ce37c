"""The subprocess side of tests/test_distribute.py. A distributed run needs a process of
its own: devices are set before TensorFlow or JAX starts, a multi-worker cluster at
start-up.

    python tests/distributed_runs.py OUT mirrored      TensorFlow, the CPU split into two devices
    python tests/distributed_runs.py OUT jax ARGS      train.py ARGS (under KERAS_BACKEND=jax)
    python tests/distributed_runs.py OUT worker ARGS   train.py ARGS (one multi-worker worker)
    python tests/distributed_runs.py OUT split ARGS    train.py ARGS, the CPU split into two devices first

mirrored writes OUT/equivalence.npz, two recipe steps on two replicas and on one device
from the same weights, images, noise and labels, and OUT/overflow.npz, a loss-scaled
step with an overflow on one replica. mirrored and jax write OUT/refusals.txt, the
errors of settings gan.training.distribute.start refuses. Every mode writes every copy of every
variable the step changes, after the steps or at each checkpoint (OUT/copies.npz: array
i of shape (copies, ...) for model.state_variables[i]).
"""

from __future__ import annotations

import runpy
import sys
from collections import defaultdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _split_cpu() -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def _copies(variable) -> list:
    """Each device's copy of a variable: a MirroredVariable's per-replica values, a
    jax.Array's shards, or the one value."""
    import numpy as np

    value = variable.value
    if hasattr(value, "values"):
        return [copy.numpy() for copy in value.values]
    if hasattr(value, "addressable_shards"):
        return [np.asarray(shard.data) for shard in value.addressable_shards]
    return [np.asarray(value)]


def _save_copies(path: Path, model) -> None:
    import numpy as np

    np.savez(path, **{str(i): np.stack(_copies(v)) for i, v in enumerate(model.state_variables)})


def _record_copies(path: Path) -> None:
    """Make each checkpoint of a run also write every copy of the step's variables."""
    from gan.training import checkpoints

    save = checkpoints.save

    def recording(run, step, model, *state):
        _save_copies(path, model)
        return save(run, step, model, *state)

    checkpoints.save = recording


def _replica() -> tuple[int, int]:
    """(index, count) of the replica being traced; (0, 1) without a strategy."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return int(tf.get_static_value(context.replica_id_in_sync_group)), context.num_replicas_in_sync


def _share(array):
    """The traced replica's rows of a global-batch array."""
    import keras

    index, count = _replica()
    size = len(array) // count
    return keras.ops.convert_to_tensor(array[index * size:(index + 1) * size])


def _replay(folder: Path, distribution) -> tuple[dict, object]:
    """engine_replay's two recipe steps through `distribution`, each replica given its
    share of the recorded noise and labels: the losses and the variables that must
    agree (engine_replay's noisy biases left out, Adam's first moments of the kernels
    in: Adam's steps hide a gradient's scale, its moments do not), and the model."""
    import keras
    import numpy as np
    import tensorflow as tf

    from gan.training.step import DCGAN
    from tests.engine_replay import _biases_before_batch_norm, tiny_networks

    inputs = np.load(folder / "inputs.npz")
    with distribution.scope():
        generator, discriminator = tiny_networks()
        generator.load_weights(folder / "generator.weights.h5")
        discriminator.load_weights(folder / "discriminator.weights.h5")
        model = DCGAN(generator, discriminator, sample_count=2)
    noise = defaultdict(lambda: iter(inputs["noise"]))  # handed out at trace time, in step order
    model.sample_noise = lambda batch_size: _share(next(noise[_replica()[0]]))
    model.noisy_labels = lambda batch_size: (_share(inputs["real_labels"]), _share(inputs["fake_labels"]))
    step = distribution.compiled_step(model, jit_compile=False)
    batches = iter(distribution.batches(tf.data.Dataset.from_tensor_slices(inputs["images"])))
    losses = [[float(figures[key]) for key in ("d_real_loss", "d_fake_loss", "g_loss")]
              for figures in (step(next(batches)) for _ in range(2))]
    noisy = _biases_before_batch_norm(generator) | _biases_before_batch_norm(discriminator)
    compared = [v for v in generator.weights + discriminator.weights if id(v) not in noisy]
    compared += [v for v in model.trained_variables if v.path.endswith("kernel_momentum")]
    figures = {"losses": np.array(losses), **{str(i): keras.ops.convert_to_numpy(v.value) for i, v in enumerate(compared)}}
    return figures, model


def _equivalence(out: Path):
    """Two replicas against one device, from the same inputs: OUT/equivalence.npz, and
    the replicas' copies after the two steps. Returns the two replicas' strategy."""
    import numpy as np

    from gan.settings.config import TrainConfig
    from gan.training import distribute
    from tests.engine_replay import BATCH, make_inputs

    make_inputs(out)
    one, _ = _replay(out, distribute.Distribution())
    distribution = distribute.start(TrainConfig(data="", batch_size=BATCH, distribute="mirrored"))
    two, model = _replay(out, distribution)
    np.savez(out / "equivalence.npz", **{f"one:{k}": v for k, v in one.items()}, **{f"two:{k}": v for k, v in two.items()})
    _save_copies(out / "copies.npz", model)
    return distribution.strategy


def _overflow_on_one_replica(out: Path, strategy) -> None:
    """A float16-style overflow on the second replica only, under a LossScaleOptimizer:
    OUT/overflow.npz holds the weight's copies and the loss scale after that step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from gan.training import replicas

    with strategy.scope():
        weight = keras.Variable(np.ones(3, "float32"))
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
        optimizer.build([weight])

    def replica_step():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        with tf.GradientTape() as tape:
            scaled = optimizer.scale_loss(tf.reduce_sum(weight.value * tf.where(replica == 1, np.inf, 1.0)))
        gradients = tape.gradient(scaled, [weight.value])
        optimizer.apply(replicas.overflow_everywhere(optimizer, gradients), [weight])

    tf.function(lambda: strategy.run(replica_step))()
    np.savez(out / "overflow.npz", weight=np.stack(_copies(weight)), scale=optimizer.dynamic_scale.numpy(),
             initial_scale=optimizer.initial_scale)


def _refusals(out: Path) -> None:
    """The one-line errors of a global batch the replicas cannot share and, under JAX,
    of multiworker: OUT/refusals.txt, one a line."""
    import keras

    from gan.errors import UserError
    from gan.settings.config import TrainConfig
    from gan.training import distribute

    messages = []
    for mode in ("mirrored", "multiworker") if keras.backend.backend() == "jax" else ("mirrored",):
        try:
            distribute.start(TrainConfig(data="", batch_size=3, distribute=mode, seed=1))
        except UserError as error:
            messages.append(str(error))
    (out / "refusals.txt").write_text("\n".join(messages) + "\n")


def main(out: Path, mode: str, *args: str) -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    if mode == "mirrored":
        _split_cpu()
        _refusals(out)
        # One strategy per process: a second one's collectives would clash with the first's.
        _overflow_on_one_replica(out, _equivalence(out))
        return
    if mode == "jax":
        _refusals(out)
    if mode == "split":
        _split_cpu()
    _record_copies(out / "copies.npz")
    sys.argv = [str(PROJECT_ROOT / "train.py"), *args]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
