"""Everything a run needs before its first step: the data, the precision, the run folder
(claimed new, or an old one resumed from its newest checkpoint), the networks, the fixed
noise, the evaluator and the compiled step."""

from __future__ import annotations

import dataclasses
import math
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from gan.data.folders import ImageSet, ImageStream, open_training_data
from gan.evaluation.evaluator import Evaluator
from gan.evaluation.health_rules import HealthState
from gan.evaluation.health_signals import RealReference
from gan.pictures.latent import seed_noise
from gan.runs.folder import RunDir, check_new_folder, claim_run_folder
from gan.runs.health_log import truncate_health
from gan.runs.lock import TrainingLock
from gan.runs.text_log import truncate_log
from gan.settings.config import TrainConfig
from gan.training import checkpoints, distribute, precision
from gan.training.builders import build_dcgan, build_networks
from gan.training.health import real_reference, saved_health, untrained_signals
from gan.training.preflight import run_preflight
from gan.training.step import DCGAN


@dataclass
class Session:
    """A run ready to train from step `start`."""

    config: TrainConfig  # as recorded in the run's config.json: seed drawn, precision resolved
    run: RunDir
    model: DCGAN
    fixed_noise: np.ndarray  # the noise behind every fixed-noise grid
    start: int  # steps already trained (0, or the resumed checkpoint's)
    best_fid: float  # the best FID so far (inf before the first evaluation)
    train_step: Callable[[object], dict]
    batches: Iterator
    batches_from: Callable[[int], Iterator]  # the batch stream as it runs from a given step on
    evaluator: Evaluator | None  # with --eval-every only
    reference: RealReference  # the real images' side of every health signal
    health: HealthState  # the doctor's memory, restored with the checkpoint
    health_records: int  # lines of health.jsonl written up to the start
    lock: TrainingLock  # held on the run folder until the training ends


def open_session(config: TrainConfig, resume: Path | None, distribution: distribute.Distribution,
                 image_data: ImageSet | ImageStream | None = None) -> Session:
    """Check the run can start, load the data (unless given), then build or restore the
    networks. The session holds the run folder's lock; the caller releases it.

    Raises UserError (before anything is written) on a bad folder, data or checkpoint;
    a session that fails to open releases the lock it took.
    """
    with ExitStack() as on_failure:
        session = _open(config, resume, distribution, image_data, on_failure)
        on_failure.pop_all()
    return session


def _open(config: TrainConfig, resume: Path | None, distribution: distribute.Distribution,
          image_data: ImageSet | ImageStream | None, on_failure: ExitStack) -> Session:
    if resume is None:
        if config.out is not None:
            check_new_folder(config.out, "--out")
    else:
        lock = on_failure.enter_context(TrainingLock.take(resume))
        checkpoints.check_resumable(config, resume)
    if image_data is None:
        image_data = open_training_data(config.data, config.image_size, config.channels, config.data_cache)
    flipped = ", each also flipped left to right (--mirror)" if config.mirror else ""
    print(f"Data: {image_data.description()} from {config.data}{flipped}")
    if image_data.skipped:
        print(f"warning: {image_data.skipped_summary()}", file=sys.stderr)
    evaluator = (  # its folder and weights fail here, before the run folder is written
        Evaluator(config.inception_weights, config.eval_real, config.image_size, config.channels)
        if config.eval_every else None
    )
    config = _resolve_precision(config)
    with precision.dtype_policy(config.mixed_precision), distribution.scope():
        if resume is None:
            config, run, model, fixed_noise = _new_run(config)
            lock, start, state = on_failure.enter_context(TrainingLock.take(run.root)), 0, {}
        else:
            run, model, fixed_noise, start, state = _resumed_run(config, resume)
    run_preflight(config, image_data, model, distribution.replicas)
    reference = real_reference(image_data, config)
    health, health_records = _health_state(config, model, fixed_noise, state, reference)
    truncate_health(run.health, health_records)

    def batches_from(step: int) -> Iterator:
        return iter(distribution.batches(image_data.batches(config.batch_size, config.seed, skip_batches=step, mirror=config.mirror)))

    return Session(
        config=config,
        run=run,
        model=model,
        fixed_noise=fixed_noise,
        start=start,
        best_fid=math.inf if state.get("best_fid") is None else state["best_fid"],
        train_step=distribution.compiled_step(model, jit_compile=config.xla),
        batches=batches_from(start),
        batches_from=batches_from,
        evaluator=evaluator,
        reference=reference,
        health=health,
        health_records=health_records,
        lock=lock,
    )


def _health_state(config: TrainConfig, model: DCGAN, fixed_noise: np.ndarray, state: dict,
                  reference: RealReference) -> tuple[HealthState, int]:
    """The doctor's memory and its count of health.jsonl lines, as the checkpoint left
    them; a new run (or one from before the doctor) starts it from the untrained
    generator's images: this run's own, or a freshly built one's."""
    saved, records = saved_health(state)
    if saved:
        return HealthState.from_json(saved), records
    generator = model.generator if not state else build_networks(config)[0]
    noise = fixed_noise[: max(2, min(len(fixed_noise), config.batch_size))]
    return HealthState(baseline=untrained_signals(generator, noise, reference)), records


def _resolve_precision(config: TrainConfig) -> TrainConfig:
    """`auto` made concrete for this machine and engine, and said so."""
    if config.mixed_precision != "auto":
        return config
    config = dataclasses.replace(config, mixed_precision=precision.resolve("auto", config.xla))
    native = "bfloat16 is native to this device and engine" if config.mixed_precision != "off" else "no native bfloat16 here"
    print(f"Precision: {config.mixed_precision} (--mixed-precision auto: {native}; off forces float32)")
    return config


def _new_run(config: TrainConfig) -> tuple[TrainConfig, RunDir, DCGAN, np.ndarray]:
    """Claim the run folder, record the settings (with the seed drawn if none was given),
    build the networks and draw the fixed noise."""
    if config.seed is None:
        config = dataclasses.replace(config, seed=random.SystemRandom().randrange(2**31))
    run = RunDir(claim_run_folder(config.out, config.data), config.steps)
    run.make_folders()
    config.save(run.config)
    print(f"Run folder: {run.root} (seed {config.seed})")
    keras.utils.set_random_seed(config.seed)
    model = build_dcgan(config)
    fixed_noise = seed_noise(config.seed, config.grid_images, model.noise_shape)
    np.save(run.fixed_noise, fixed_noise)
    return config, run, model, fixed_noise


def _resumed_run(config: TrainConfig, folder: Path) -> tuple[RunDir, DCGAN, np.ndarray, int, dict]:
    """The run folder's newest checkpoint restored, its settings updated, its log cut back."""
    run = RunDir(folder, config.steps)
    keras.utils.set_random_seed(config.seed)
    model, restored, state = checkpoints.restore_newest(config, run)
    config.save(run.config)
    dropped = truncate_log(run.log, restored.step)
    print(f"Resuming {run.root} at step {restored.step} of {config.steps}"
          + (f"; dropped {dropped} log lines written after that checkpoint" if dropped else ""))
    return run, model, np.load(run.fixed_noise), restored.step, state
