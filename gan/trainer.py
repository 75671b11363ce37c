"""train(config): the loop, and the cadence of its samples, checkpoints and logs.

Read top to bottom: data in, networks built (or restored from the newest checkpoint),
then one compiled step per iteration with the host doing only what must be done per
step (one log line) or at an interval (grids every `sample_every`; a checkpoint and the
fixed-noise grid every `save_every`). Whatever stops the loop early (Ctrl-C, SIGTERM, a
non-finite loss, a failed save) leaves the newest checkpoint whole, and the message
says how to resume from it.
"""

from __future__ import annotations

import dataclasses
import math
import random
import signal
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from gan import distribute, images, precision
from gan.config import TrainConfig
from gan.data import open_training_data
from gan.errors import RunStopped, UserError
from gan.gan import LOSSES, DCGAN
from gan.presets import build_networks, preset_named
from gan.run_dir import (
    Checkpoint,
    RunDir,
    check_out_folder,
    claim_run_folder,
    list_checkpoints,
    prune_checkpoints,
    save_checkpoint,
    save_model,
)
from gan.training_log import SCALARS, TrainingLog, truncate_log

MAX_UNDONE_IN_A_ROW = 10  # with --on-nan skip: past this, the run is diverging, not meeting a bad batch


def _join(config: TrainConfig, generator: keras.Model, discriminator: keras.Model) -> DCGAN:
    return DCGAN(
        generator,
        discriminator,
        loss=config.loss,
        schedule=preset_named(config.preset).schedule,
        label_noise=config.label_noise,
        seed=config.seed,
        sample_count=config.grid_images,
        undo_non_finite=config.on_nan == "skip",
        ema_decay=config.ema,
        augment=config.augment_policy,
    )


def build_dcgan(config: TrainConfig) -> DCGAN:
    """The preset's two networks at the configured size, joined for training."""
    return _join(config, *build_networks(config))


def _restore(config: TrainConfig, run: RunDir) -> tuple[DCGAN, Checkpoint, dict]:
    """The networks, optimizer states and noise state of the newest checkpoint that loads.

    A damaged newest checkpoint (say, a disk error while it was written) is reported and
    the one before it is used.
    """
    for checkpoint in reversed(list_checkpoints(run)):
        try:
            generator = keras.saving.load_model(checkpoint.generator, safe_mode=True)
            discriminator = keras.saving.load_model(checkpoint.discriminator, safe_mode=True)
            average = checkpoint.ema_generator and keras.saving.load_model(checkpoint.ema_generator, safe_mode=True)
            state = checkpoint.read_state()
        except Exception as error:  # a damaged file fails in many ways; the previous checkpoint may not
            print(f"warning: checkpoint {checkpoint.step} is unreadable ({str(error).splitlines()[0]}); "
                  "trying the one before", file=sys.stderr)
            continue
        model = _join(config, generator, discriminator)
        model.seed_generator.state.assign(np.asarray(state["seed_generator_state"], dtype="int64"))
        if config.ema:
            if not average:
                raise UserError(f"checkpoint {checkpoint.step} has no ema_generator save to resume --ema from")
            model.sampler.set_weights(average.get_weights())
        return model, checkpoint, state
    raise UserError(f"none of the checkpoints in {run.models} could be read")


class _IntervalMeans:
    """Mean losses and images/s since the last save, for the recipe's periodic printout."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self.sums, self.steps, self.start = dict.fromkeys(LOSSES, 0.0), 0, time.perf_counter()

    def add(self, scalars: dict[str, float]) -> None:
        for key in LOSSES:
            self.sums[key] += scalars[key]
        self.steps += 1

    def summary(self) -> str:
        if not self.steps:
            return "no step with finite losses since the last save"
        means = " ".join(f"{key} {self.sums[key] / self.steps:.4f}" for key in LOSSES)
        rate = self.steps * self.batch_size / (time.perf_counter() - self.start)
        return f"mean over the last {self.steps} steps: {means} ({rate:.0f} img/s)"


class _StopSignals:
    """Turns the first Ctrl-C or SIGTERM into a request to stop after the current step,
    with a checkpoint. After it the signals' default action is back, so a second one
    ends the process at once, even inside a long TensorFlow call (Python handlers only
    run between steps); the atomic saves keep the previous checkpoint whole."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum
        for other in self.SIGNALS:
            signal.signal(other, signal.SIG_DFL)
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step "
              "(press Ctrl-C again to quit at once)", file=sys.stderr)

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _save_grid(log: TrainingLog, tag: str, step: int, pixels: np.ndarray, path: Path) -> None:
    grid = images.make_grid(images.to_uint8(pixels))
    images.save_png(grid, path)
    log.image(tag, step, grid)


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
    fixed_noise = np.random.default_rng(config.seed).standard_normal(
        (config.grid_images, *model.noise_shape), dtype=np.float32
    )
    np.save(run.fixed_noise, fixed_noise)
    return config, run, model, fixed_noise


def _resumed_run(config: TrainConfig, folder: Path) -> tuple[RunDir, DCGAN, np.ndarray, int, dict]:
    """The run folder's newest checkpoint restored, its settings updated, its log cut back."""
    run = RunDir(folder, config.steps)
    keras.utils.set_random_seed(config.seed)
    model, restored, state = _restore(config, run)
    config.save(run.config)
    dropped = truncate_log(run.log, restored.step)
    print(f"Resuming {run.root} at step {restored.step} of {config.steps}"
          + (f"; dropped {dropped} log lines written after that checkpoint" if dropped else ""))
    return run, model, np.load(run.fixed_noise), restored.step, state


def _check_resumable(config: TrainConfig, folder: Path) -> None:
    """Fail before the data are loaded if there is nothing to resume."""
    checkpoints = list_checkpoints(RunDir(folder, config.steps))
    if not checkpoints:
        raise UserError(f"{folder / 'models'} holds no complete checkpoint to resume from")
    if checkpoints[-1].step >= config.steps:
        raise UserError(f"{folder} already ran {checkpoints[-1].step} steps; pass --steps with a larger total to go on")


def train(config: TrainConfig, resume: Path | None = None, show_progress: bool = True) -> Path:
    """Train a new run, or continue the run folder `resume` from its newest checkpoint.

    Returns the run folder (on a multi-worker run's other workers, their scratch copy,
    removed by then). Raises UserError on bad input and RunStopped when the run ends
    early with its state saved.
    """
    distribution = distribute.start(config)
    with distribution.own_folders(config, resume) as (config, resume):
        return _train(config, resume, show_progress, distribution)


def _train(config: TrainConfig, resume: Path | None, show_progress: bool, distribution: distribute.Distribution) -> Path:
    if resume is None:
        check_out_folder(config.out)
    else:
        _check_resumable(config, resume)
    image_data = open_training_data(config.data, config.image_size, config.channels, config.data_cache)
    print(f"Data: {image_data.description()} from {config.data}")
    if image_data.skipped:
        print(f"warning: {image_data.skipped_summary()}", file=sys.stderr)
    if config.mixed_precision == "auto":
        config = dataclasses.replace(config, mixed_precision=precision.resolve("auto", config.xla))
        native = "bfloat16 is native to this device and engine" if config.mixed_precision != "off" else "no native bfloat16 here"
        print(f"Precision: {config.mixed_precision} (--mixed-precision auto: {native}; off forces float32)")
    with precision.dtype_policy(config.mixed_precision), distribution.scope():
        if resume is None:
            config, run, model, fixed_noise = _new_run(config)
            start, state = 0, {}
        else:
            run, model, fixed_noise, start, state = _resumed_run(config, resume)

    evaluator = None
    best_fid = math.inf if state.get("best_fid") is None else state["best_fid"]
    if config.eval_every:
        from gan.evaluation import Evaluator, append_metrics, format_metrics

        evaluator = Evaluator(config.inception_weights, config.eval_real, config.image_size)
    train_step = distribution.compiled_step(model, jit_compile=config.xla)
    batches = iter(distribution.batches(image_data.batches(config.batch_size, config.seed, skip_batches=start)))
    last_checkpoint, undone_in_a_row = start, 0

    def diverged(problem: str) -> RunStopped:
        if last_checkpoint:
            return RunStopped(
                f"error: {problem}; stopped without saving; the newest checkpoint is step {last_checkpoint}. "
                f"Resume from it with: python train.py --resume {run.root} --on-nan skip, "
                "or start again with lower learning rates (--lr-g, --lr-d)",
                exit_code=1,
            )
        return RunStopped(
            f"error: {problem}; stopped before any checkpoint was saved. "
            "Start again with lower learning rates (--lr-g, --lr-d) or --on-nan skip",
            exit_code=1,
        )

    def save_fixed_grid(step: int) -> None:
        model.refresh_sampler_statistics(seed=step)
        pixels = model.sampler(fixed_noise, training=False)
        _save_grid(log, "fixed_noise", step, keras.ops.convert_to_numpy(pixels), run.fixed_grid(step))

    def evaluate(done: int) -> None:
        nonlocal best_fid
        started = time.perf_counter()
        model.refresh_sampler_statistics(seed=done)
        result = evaluator.score_generator(model.sampler, config.eval_count, seed=config.seed)
        interval.start += time.perf_counter() - started  # keep img/s a training rate
        log.metrics(done, result)
        append_metrics(run.root, {"step": done, **result})
        bar.write(f"step {done}: {format_metrics(result)}")
        if result["fid"] < best_fid:
            best_fid = result["fid"]
            save_model(model.sampler, run.best_generator)

    def checkpoint(done: int) -> None:
        nonlocal last_checkpoint
        save_fixed_grid(done)
        state = {
            "step": done,
            "seed_generator_state": keras.ops.convert_to_numpy(model.seed_generator.state.value).tolist(),
            "best_fid": best_fid if math.isfinite(best_fid) else None,
        }
        try:
            save_checkpoint(run, done, model, state)
        except OSError as error:
            raise RunStopped(
                f"error: could not save the checkpoint of step {done}: {error}. "
                f"The previous checkpoint (step {last_checkpoint}) is intact; once the disk is fixed, "
                f"resume with: python train.py --resume {run.root}",
                exit_code=1,
            ) from None
        prune_checkpoints(run, config.keep)
        last_checkpoint = done

    interval = _IntervalMeans(config.batch_size)
    # A redrawn bar only makes sense on a terminal; in a log file the interval lines suffice.
    with _StopSignals() as stop, TrainingLog(run.log, run.tensorboard) as log, tqdm(
        total=config.steps, initial=start, unit="step",
        disable=not (show_progress and sys.stderr.isatty()), dynamic_ncols=True,
    ) as bar:
        if start == 0:
            save_fixed_grid(0)
        for step in range(start, config.steps):
            figures = train_step(next(batches))
            scalars = {key: float(figures[key]) for key in SCALARS}
            log.step(step, scalars)
            if all(math.isfinite(scalars[key]) for key in LOSSES):
                undone_in_a_row = 0
                interval.add(scalars)
                if step % config.sample_every == 0:
                    _save_grid(log, "samples", step, keras.ops.convert_to_numpy(figures["samples"]), run.sample_grid(step))
            elif "undone" not in figures:
                losses = ", ".join(f"{key} {scalars[key]}" for key in LOSSES)
                raise diverged(f"a loss is not finite at step {step} ({losses})")
            else:
                undone_in_a_row += 1
                bar.write(f"step {step}: a loss is not finite; the step's updates were undone (--on-nan skip)")
                if undone_in_a_row == MAX_UNDONE_IN_A_ROW:
                    raise diverged(f"the last {MAX_UNDONE_IN_A_ROW} steps all had non-finite losses")

            done = step + 1
            if evaluator and (done % config.eval_every == 0 or done == config.steps):
                evaluate(done)
            if done % config.save_every == 0 or done == config.steps:
                checkpoint(done)
                bar.write(f"step {done}/{config.steps}: {interval.summary()}")
                interval.reset()
            if stop.received is not None:
                if last_checkpoint != done:
                    checkpoint(done)
                raise RunStopped(
                    f"Stopped by {signal.Signals(stop.received).name} after step {done}, with a checkpoint. "
                    f"Resume with: python train.py --resume {run.root}",
                    exit_code=128 + stop.received,
                )

            bar.update()
            rate = bar.format_dict["rate"]
            bar.set_postfix_str(
                f"D real {scalars['d_real_loss']:.3f} D fake {scalars['d_fake_loss']:.3f} "
                f"GAN {scalars['g_loss']:.3f} "
                + (f"{rate * config.batch_size:.0f} img/s" if rate else ""),
                refresh=False,
            )
    print(f"Done: {config.steps} steps. Grids in {run.images}, models in {run.models}")
    return run.root
