"""`--distribute`: one training run over several devices or machines.

- off: one device, the step as compiled by gan.training.engines.
- mirrored: TensorFlow's MirroredStrategy over every local GPU (without GPUs, over the
  CPU's logical devices: one, unless a test splits it); under KERAS_BACKEND=jax,
  keras.distribution.DataParallel over the local devices.
- multiworker: TensorFlow's MultiWorkerMirroredStrategy over the machines TF_CONFIG
  lists, every GPU of each. Every worker runs the same command; only the chief writes.

`--batch-size` stays the global batch, split evenly across the replicas, and the step
keeps its single-device meaning: the gradients are those of the global batch's mean
loss (gan.training.replicas), and batch norm normalises with the global batch's statistics. On
JAX that is what jax.jit over the sharded batch computes; on TensorFlow the batch-norm
layers are synchronised (cross-replica, as in BigGAN) while the distributed step is
traced. Per-replica statistics would make a GAN's batch norm, which the recipe depends
on, see 8 images instead of 64 on an 8-GPU machine, and make the result depend on the
machine. So N replicas train as one device would on the whole batch, up to rounding and
the random draws (each replica draws its own noise and labels).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from gan.errors import UserError

if TYPE_CHECKING:
    import tensorflow as tf

    from gan.settings.config import TrainConfig
    from gan.training.step import DCGAN

Step = Callable[[object], dict]


class Distribution:
    """One device: everything as without --distribute."""

    replicas = 1

    def scope(self) -> contextlib.AbstractContextManager:
        """Where the networks, optimizers and noise state are built or restored."""
        return contextlib.nullcontext()

    def batches(self, dataset: "tf.data.Dataset") -> Iterable:
        """The global batches as the compiled step takes them."""
        return dataset

    def compiled_step(self, model: DCGAN, jit_compile: bool) -> Step:
        """The model's training step on a global batch, returning the figures the trainer
        logs: the global batch's losses and means, and the step's fakes for the grids."""
        return model.compiled_train_step(jit_compile)

    @contextlib.contextmanager
    def own_folders(self, config: TrainConfig, resume: Path | None) -> Iterator[tuple[TrainConfig, Path | None]]:
        """The settings and run folder this process trains with: the given ones, except
        on the workers other than the chief, which write to a scratch copy."""
        yield config, resume


def _check_divisible(batch_size: int, replicas: int, mode: str) -> None:
    if batch_size % replicas:
        raise UserError(
            f"--batch-size {batch_size} must be divisible by the {replicas} replicas of --distribute {mode}"
        )


@contextlib.contextmanager
def _synchronised_batch_norm(networks: Iterable[keras.Model]) -> Iterator[None]:
    """Batch norm over the global batch (an all-reduce of the moments) while the step is
    traced, and only then: a saved network keeps `synchronized=False`, which every
    backend can load."""
    norms = {
        layer: layer.synchronized for network in networks for layer in network.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    for layer in norms:
        layer.synchronized = True
    try:
        yield
    finally:
        for layer, synchronized in norms.items():
            layer.synchronized = synchronized


class _TensorFlowStrategy(Distribution):
    """A tf.distribute strategy: MirroredStrategy or MultiWorkerMirroredStrategy."""

    def __init__(self, strategy: "tf.distribute.Strategy", mode: str, is_chief: bool = True, worker: str = ""):
        self.strategy, self.mode, self.is_chief, self.worker = strategy, mode, is_chief, worker
        self.replicas = strategy.num_replicas_in_sync

    def describe(self) -> str:
        devices = ", ".join(name.rpartition("device:")[2] for name in self.strategy.extended.worker_devices)
        return f"{self.mode} over {self.replicas} replicas ({f'{self.worker}: ' if self.worker else ''}{devices})"

    def scope(self) -> contextlib.AbstractContextManager:
        return self.strategy.scope()

    def batches(self, dataset: "tf.data.Dataset") -> Iterable:
        import tensorflow as tf

        # The images come from memory, not files: each worker takes its replicas' shares
        # of every global batch of the same seeded order.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def compiled_step(self, model: DCGAN, jit_compile: bool) -> Step:
        import tensorflow as tf

        strategy = self.strategy
        replica_step = tf.function(model.train_step, jit_compile=True) if jit_compile else model.train_step

        @tf.function
        def step(batch) -> dict:
            with _synchronised_batch_norm([model.generator, model.discriminator]):
                figures = strategy.run(replica_step, args=(batch,))
            # The scalars are already global means, alike on every replica; the grid shows
            # the fakes of this machine's replicas, as many as one device would show.
            samples = tf.concat(strategy.experimental_local_results(figures.pop("samples")), axis=0)
            first = {key: strategy.experimental_local_results(value)[0] for key, value in figures.items()}
            return {**first, "samples": samples[: model.sample_count]}

        return step

    @contextlib.contextmanager
    def own_folders(self, config: TrainConfig, resume: Path | None) -> Iterator[tuple[TrainConfig, Path | None]]:
        if self.is_chief:
            yield config, resume
            return
        # Every worker runs the whole trainer, so the others write what the chief writes,
        # to a scratch folder removed at the end; a resumed run is copied there (without
        # its pictures) to read from.
        scratch = Path(tempfile.mkdtemp(prefix="dcgan-worker-"))
        try:
            run = scratch / "run"
            if resume is not None:
                shutil.copytree(resume, run, ignore=_pictures)
                resume = run
            print(f"{self.worker} is not the chief: its files go to {run}, removed at the end")
            yield dataclasses.replace(config, out=str(run), eval_every=0), resume
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _pictures(folder: str, names: list[str]) -> list[str]:
    """What a scratch copy of a run leaves out: the grids and TensorBoard files."""
    return names if Path(folder).name in ("images", "tensorboard") else []


def _mirrored(batch_size: int) -> _TensorFlowStrategy:
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    _check_divisible(batch_size, len(devices), "mirrored")
    return _TensorFlowStrategy(tf.distribute.MirroredStrategy([device.name for device in devices]), "mirrored")


def _cluster() -> tuple[dict, str, int]:
    """TF_CONFIG's cluster, and this worker's task type and index, checked."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise UserError(
            "--distribute multiworker needs TF_CONFIG, the cluster's addresses and this worker's task "
            '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}})'
        )
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config["cluster"], tf_config["task"]
        kind, index = task["type"], int(task["index"])
        if not 0 <= index < len(cluster[kind]):
            raise IndexError(f"task index {index} is not in cluster[{kind!r}]")
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise UserError(f"TF_CONFIG is not a valid cluster and task ({error!r}): {text}") from None
    return cluster, kind, index


def _multiworker(batch_size: int) -> _TensorFlowStrategy:
    cluster, kind, index = _cluster()
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _check_divisible(batch_size, strategy.num_replicas_in_sync, "multiworker")
    # The chief is the "chief" task, or worker 0 where the cluster names none.
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return _TensorFlowStrategy(strategy, "multiworker", is_chief, worker=f"{kind} {index}")


class _JaxDataParallel(Distribution):
    """keras.distribution.DataParallel: weights replicated, each batch split over the
    local devices, and one jax.jit program partitioned by XLA."""

    def __init__(self, batch_size: int):
        self.parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        self.devices = self.parallel.device_mesh.devices.ravel().tolist()
        self.replicas = len(self.devices)
        _check_divisible(batch_size, self.replicas, "mirrored")

    def describe(self) -> str:
        return f"mirrored (JAX DataParallel) over {self.replicas} devices ({', '.join(map(str, self.devices))})"

    def scope(self) -> contextlib.AbstractContextManager:
        return self.parallel.scope()

    def batches(self, dataset: "tf.data.Dataset") -> Iterable:
        import jax
        import numpy as np

        def place(batch):
            batch = np.asarray(batch)
            return jax.device_put(batch, self.parallel.get_data_layout(batch.shape).backend_layout)

        return map(place, dataset)


def start(config: TrainConfig) -> Distribution:
    """The distribution `--distribute` asks for, set up and described on stdout; call it
    before TensorFlow runs anything (a multi-worker cluster is configured at start-up)."""
    mode = config.distribute
    if mode == "off":
        return Distribution()
    if keras.backend.backend() == "jax":
        if mode == "multiworker":
            raise UserError("--distribute multiworker is TensorFlow-only; under KERAS_BACKEND=jax use --distribute mirrored")
        distribution = _JaxDataParallel(config.batch_size)
    elif config.xla:
        # XLA compiles each replica's step on one device, which then cannot reach the
        # other replicas' copies of the noise state.
        raise UserError(f"--xla does not combine with --distribute {mode} on TensorFlow; leave --xla out")
    else:
        distribution = (_mirrored if mode == "mirrored" else _multiworker)(config.batch_size)
        share = config.batch_size // distribution.replicas
        if config.mbstd and share % config.mbstd_group:
            # Each TensorFlow replica runs the discriminator on its own share of the batch.
            raise UserError(f"--mbstd-group {config.mbstd_group} must divide each replica's {share} images "
                            f"(--batch-size {config.batch_size} over {distribution.replicas} replicas)")
    print(f"Distribute: {distribution.describe()}; each takes {config.batch_size // distribution.replicas} "
          f"of every batch's {config.batch_size} images")
    return distribution
