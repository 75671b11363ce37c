"""train(config): the loop, and the cadence of its samples, checkpoints and logs.

`run_loop` reads top to bottom: one compiled step per iteration, the host recording the
step before while the device runs this one, and, at the steps where the networks' state
must be this step's (an evaluation, a checkpoint, a stop, the end), a drain first.
Whatever stops the loop early (Ctrl-C, SIGTERM, a non-finite loss, a failed save) leaves
the newest checkpoint whole, and the message says how to resume from it.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from gan.data.folders import ImageSet, ImageStream
from gan.errors import RunStopped
from gan.evaluation.evaluator import append_metrics, format_metrics
from gan.pictures.grids import make_grid, save_png, to_uint8
from gan.runs.folder import save_model
from gan.settings.config import TrainConfig
from gan.training import checkpoints, distribute, rollback, schedule
from gan.training.health import HealthMonitor, TroubleFound
from gan.training.log import SCALARS, TrainingLog
from gan.training.session import Session, open_session
from gan.training.signals import StopSignals
from gan.training.step import LOSSES

MAX_UNDONE_IN_A_ROW = 10  # with --on-nan skip: past this, the run is diverging, not meeting a bad batch


def train(config: TrainConfig, resume: Path | None = None, show_progress: bool = True,
          image_data: ImageSet | ImageStream | None = None) -> Path:
    """Train a new run, or continue the run folder `resume` from its newest checkpoint.

    `image_data`: the training images, where the caller has opened them already (train.py
    does so before TensorFlow starts, so that a wrong --data fails in a second).
    Returns the run folder (on a multi-worker run's other workers, their scratch copy,
    removed by then). Raises UserError on bad input and RunStopped when the run ends
    early with its state saved.
    """
    distribution = distribute.start(config)
    with distribution.own_folders(config, resume) as (config, resume):
        session = open_session(config, resume, distribution, image_data)
        with session.lock:
            return run_loop(session, show_progress)


def run_loop(session: Session, show_progress: bool = True) -> Path:
    """Train `session` from its start step to its last; return the run folder."""
    config, run = session.config, session.run
    with StopSignals() as stop, TrainingLog(run.log, run.tensorboard) as log, _progress_bar(
        config, session.start, show_progress
    ) as bar:
        interval = IntervalMeans(config.batch_size)
        health = HealthMonitor(config, run, session.reference, session.health, session.health_records, log, bar)
        outputs = RunOutputs(session, log, bar, interval, health)
        recorder = StepRecorder(session, log, bar, interval, outputs, health)
        # The untrained generator's fixed-noise grid opens a new run's pictures.
        if session.start == 0:
            outputs.fixed_grid(0)
        start = session.start
        # A rollback (--on-trouble rollback) sends the run back to an earlier step.
        while start < config.steps:
            try:
                start = _train_steps(session, start, recorder, outputs, stop)
            except TroubleFound as trouble:
                start = outputs.after_trouble(trouble, recorder)
    print(f"Done: {config.steps} steps. Grids in {run.images}, models in {run.models}")
    return run.root


def _train_steps(session: Session, start: int, recorder: StepRecorder, outputs: RunOutputs, stop: StopSignals) -> int:
    """Train from step `start` to the last; return the number of steps run in all."""
    for step in range(start, session.config.steps):
        schedule.set_learning_rates(session.model, session.config, step)
        # Dispatch this step, then record the previous one while the device runs it:
        # reading a step's losses waits for the device, so it is done one step late.
        figures = session.train_step(next(session.batches))
        recorder.hold(step, figures)
        done = step + 1
        # Evaluations, checkpoints and stops need this step's state: drain first.
        if outputs.due(done) or stop.received is not None:
            recorder.drain()
            outputs.after(done)
        if stop.received is not None:
            raise outputs.stopped_by(stop.received, done)
    recorder.drain()
    return session.config.steps


def _progress_bar(config: TrainConfig, start: int, show_progress: bool) -> tqdm:
    # A redrawn bar only makes sense on a terminal; in a log file the interval lines suffice.
    return tqdm(
        total=config.steps, initial=start, unit="step",
        disable=not (show_progress and sys.stderr.isatty()), dynamic_ncols=True,
    )


def _save_grid(log: TrainingLog, tag: str, step: int, pixels: np.ndarray, path: Path) -> None:
    grid = make_grid(to_uint8(pixels))
    save_png(grid, path)
    log.image(tag, step, grid)


class IntervalMeans:
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

    def exclude(self, seconds: float) -> None:
        """Leave time spent on other work (an evaluation) out of the training rate."""
        self.start += seconds

    def summary(self) -> str:
        if not self.steps:
            return "no step with finite losses since the last save"
        means = " ".join(f"{key} {self.sums[key] / self.steps:.4f}" for key in LOSSES)
        rate = self.steps * self.batch_size / (time.perf_counter() - self.start)
        return f"mean over the last {self.steps} steps: {means} ({rate:.0f} img/s)"


class RunOutputs:
    """What the run writes at intervals (fixed-noise grids, checkpoints, evaluations, the
    best generator) and the ways it ends early (a signal, divergence, a trouble); it knows the newest checkpoint."""

    def __init__(self, session: Session, log: TrainingLog, bar: tqdm, interval: IntervalMeans, health: HealthMonitor):
        self.session, self.log, self.bar, self.interval, self.health = session, log, bar, interval, health
        self.config, self.run, self.model = session.config, session.run, session.model
        self.last_checkpoint = session.start
        self.best_fid = session.best_fid

    def _evaluating(self, done: int) -> bool:
        config = self.config
        return self.session.evaluator is not None and (done % config.eval_every == 0 or done == config.steps)

    def _saving(self, done: int) -> bool:
        return done % self.config.save_every == 0 or done == self.config.steps

    def due(self, done: int) -> bool:
        """Whether anything is written after `done` steps."""
        return self._evaluating(done) or self._saving(done)

    def after(self, done: int) -> None:
        """Write what is due after `done` steps: the evaluation first, then the checkpoint."""
        if self._evaluating(done):
            self.evaluate(done)
        if self._saving(done):
            self.checkpoint(done)
            self.bar.write(f"step {done}/{self.config.steps}: {self.interval.summary()}")
            self.interval.reset()

    def fixed_grid(self, step: int) -> None:
        self.model.refresh_sampler_statistics(seed=step)
        pixels = self.model.sampler(self.session.fixed_noise, training=False)
        _save_grid(self.log, "fixed_noise", step, keras.ops.convert_to_numpy(pixels), self.run.fixed_grid(step))

    def evaluate(self, done: int) -> None:
        started = time.perf_counter()
        self.model.refresh_sampler_statistics(seed=done)
        result = self.session.evaluator.score_generator(self.model.sampler, self.config.eval_count, seed=self.config.seed)
        self.interval.exclude(time.perf_counter() - started)
        self.log.metrics(done, result)
        append_metrics(self.run.root, {"step": done, **result})
        self.health.saw_fid(result["fid"])
        self.bar.write(f"step {done}: {format_metrics(result)}")
        if result["fid"] < self.best_fid:
            self.best_fid = result["fid"]
            save_model(self.model.sampler, self.run.best_generator)

    def checkpoint(self, done: int) -> None:
        self.fixed_grid(done)
        try:
            spare = rollback.healthy_checkpoint(self.session, self.health.state)
            checkpoints.save(self.run, done, self.model, self.best_fid, self.config.keep, self.health.checkpoint_state(),
                             spare and spare.step)
        except OSError as error:
            raise RunStopped(
                f"error: could not save the checkpoint of step {done}: {error}. "
                f"The previous checkpoint (step {self.last_checkpoint}) is intact; once the disk is fixed, "
                f"resume with: python train.py --resume {self.run.root}",
                exit_code=1,
            ) from None
        self.last_checkpoint = done

    def stopped_by(self, signum: int, done: int) -> RunStopped:
        """Checkpoint the state after `done` steps (if not yet) and say how to go on."""
        if self.last_checkpoint != done:
            self.checkpoint(done)
        return RunStopped(
            f"Stopped by {signal.Signals(signum).name} after step {done}, with a checkpoint. "
            f"Resume with: python train.py --resume {self.run.root}",
            exit_code=128 + signum,
        )

    def after_trouble(self, trouble: TroubleFound, recorder: "StepRecorder") -> int:
        """Roll back (--on-trouble rollback, where one is possible) and return the step to go
        on from; else record the step in flight, checkpoint, and raise RunStopped."""
        target, reason = None, ""  # --on-trouble stop: no checkpoint states to read
        if self.config.on_trouble == "rollback":
            target = rollback.healthy_checkpoint(self.session, self.health.state)
            reason = rollback.refusal(self.session, self.health.state, target)
        if reason is None:
            recorder.discard()
            step = rollback.roll_back(self.session, self.health, trouble, target)
            self.log.cut_at(step)
            self.last_checkpoint = step
            self.bar.write(f"health: rolled back to step {step} (rollback {self.health.state.rollbacks} of "
                           f"{rollback.MAX_ROLLBACKS}); learning rates now --lr-g {self.session.config.lr_g:g} "
                           f"--lr-d {self.session.config.lr_d:g}")
            self.bar.n = step
            self.interval.reset()
            return step
        self.health.acting = False
        recorder.drain()
        done = recorder.applied
        if self.last_checkpoint != done:
            self.checkpoint(done)
        raise rollback.stopped(self.session, trouble, done, reason)

    def diverged(self, problem: str) -> RunStopped:
        if self.last_checkpoint:
            return RunStopped(
                f"error: {problem}; stopped without saving; the newest checkpoint is step {self.last_checkpoint}. "
                f"Resume from it with: python train.py --resume {self.run.root} --on-nan skip, "
                "or start again with lower learning rates (--lr-g, --lr-d)",
                exit_code=1,
            )
        return RunStopped(
            f"error: {problem}; stopped before any checkpoint was saved. "
            "Start again with lower learning rates (--lr-g, --lr-d) or --on-nan skip",
            exit_code=1,
        )


class StepRecorder:
    """The host's work for each step, one step late: its log line and TensorBoard
    scalars, the non-finite check, its sample grid and the progress bar.

    A step's figures live on the device; turning them into Python floats waits for the
    step to finish. Held until the next step has been dispatched, they are read while
    the device runs that one, so the host never stalls the device. A non-finite loss is
    still caught one step after it happens, before any checkpoint could save it.
    """

    def __init__(self, session: Session, log: TrainingLog, bar: tqdm, interval: IntervalMeans, outputs: RunOutputs,
                 health: HealthMonitor):
        self.config, self.run, self.log, self.bar = session.config, session.run, log, bar
        self.interval, self.outputs, self.health = interval, outputs, health
        self.pending: tuple[int, dict] | None = None
        self.applied = session.start  # steps whose updates the networks hold
        self.undone_in_a_row = 0

    def hold(self, step: int, figures: dict) -> None:
        """Hold this step, then record the one held so far."""
        previous, self.pending, self.applied = self.pending, (step, figures), step + 1
        self._record(previous)

    def drain(self) -> None:
        """Record the held step now, if there is one."""
        held, self.pending = self.pending, None
        self._record(held)

    def discard(self) -> None:
        """Forget the held step: a rollback undoes it."""
        self.pending = None

    def _record(self, held: tuple[int, dict] | None) -> None:
        if held is None:
            return
        step, figures = held
        scalars = {key: float(figures[key]) for key in SCALARS}
        self.log.step(step, scalars)
        if all(math.isfinite(scalars[key]) for key in LOSSES):
            self.undone_in_a_row = 0
            self.interval.add(scalars)
            self.health.add(scalars)
            sampled, checked = step % self.config.sample_every == 0, self.health.due(step)
            closing = self.health.closing_due(step)
            if sampled or checked or closing:
                pixels = keras.ops.convert_to_numpy(figures["samples"])
            if sampled:
                _save_grid(self.log, "samples", step, pixels, self.run.sample_grid(step))
            if checked:
                self.health.check(step, pixels)
            if closing:
                self.health.closing_check(step, pixels)
        else:
            self._not_finite(step, scalars, undone="undone" in figures)
        self._show(scalars)

    def _not_finite(self, step: int, scalars: dict[str, float], undone: bool) -> None:
        if not undone:
            losses = ", ".join(f"{key} {scalars[key]}" for key in LOSSES)
            self.health.non_finite(step, scalars)
            raise self.outputs.diverged(f"a loss is not finite at step {step} ({losses})")
        self.undone_in_a_row += 1
        self.bar.write(f"step {step}: a loss is not finite; the step's updates were undone (--on-nan skip)")
        if self.undone_in_a_row == MAX_UNDONE_IN_A_ROW:
            self.health.non_finite(step, scalars)
            raise self.outputs.diverged(f"the last {MAX_UNDONE_IN_A_ROW} steps all had non-finite losses")

    def _show(self, scalars: dict[str, float]) -> None:
        self.bar.update()
        rate = self.bar.format_dict["rate"]
        self.bar.set_postfix_str(
            f"D real {scalars['d_real_loss']:.3f} D fake {scalars['d_fake_loss']:.3f} GAN {scalars['g_loss']:.3f} "
            + (f"{rate * self.config.batch_size:.0f} img/s" if rate else ""),
            refresh=False,
        )
