"""The training doctor, live: every --health-every steps it judges the step's samples and
the discriminator's scores since the last check (gan.evaluation.health_rules), appends
the verdict to RUN/health.jsonl, says so on the console and in TensorBoard when the
verdict changes, and acts on trouble as --on-trouble asks: warn, stop, or roll back.
The run's last step gets a closing check as well, so a run that goes wrong after its
last regular check does not end on an old verdict.

A check costs a few milliseconds of host work on samples the step has already made,
well under 2% of training (bench/doctor_cost.py measures it).
"""

from __future__ import annotations

import copy
import math

import keras
import numpy as np
from tqdm import tqdm

from gan.data.folders import ImageSet, ImageStream
from gan.data.survey import decoded_sample
from gan.evaluation.health_rules import LOSS_KEYS, REMEDIES, TROUBLES, Finding, HealthState, judge
from gan.evaluation.health_signals import RealReference
from gan.runs.folder import RunDir
from gan.runs.health_log import HEALTHY, append_health
from gan.settings.config import TrainConfig
from gan.training.log import TrainingLog
from gan.training.losses import adversarial_loss

REFERENCE_IMAGES = 256  # real images the samples are compared with, evenly spread over the data
WINDOW_KEYS = ("d_real_loss", "d_fake_loss", "g_loss", "d_real", "d_fake")


class TroubleFound(Exception):
    """Raised by a check whose new verdict is a trouble, with --on-trouble stop or rollback."""

    def __init__(self, step: int, finding: Finding):
        super().__init__(finding.verdict)
        self.step, self.finding = step, finding


def real_reference(image_data: ImageSet | ImageStream, config: TrainConfig) -> RealReference:
    """The signals of REFERENCE_IMAGES real images evenly spread over the data, in [-1, 1]
    as training sees them."""
    if isinstance(image_data, ImageSet):
        spacing = max(1, len(image_data.images) // REFERENCE_IMAGES)
        pixels = image_data.images[::spacing][:REFERENCE_IMAGES]
    else:
        pixels = decoded_sample(image_data.paths, REFERENCE_IMAGES, config.image_size, config.channels)
    return RealReference(pixels.astype(np.float32) / 127.5 - 1.0)


def untrained_signals(generator: keras.Model, noise: np.ndarray, reference: RealReference) -> dict[str, float]:
    """The signals of an untrained generator's images, the baseline `realism` divides by.

    Drawn in training mode (batch statistics), as the untrained network really draws;
    its batch-norm averages are put back after, so the run is the same to the bit.
    """
    averages = [keras.ops.copy(variable.value) for variable in generator.non_trainable_variables]
    pixels = keras.ops.convert_to_numpy(generator(noise, training=True))
    for variable, value in zip(generator.non_trainable_variables, averages):
        variable.assign(value)
    return reference.signals(pixels.astype(np.float32))


class HealthMonitor:
    """Judges the run at its checks; its state goes into every checkpoint."""

    def __init__(self, config: TrainConfig, run: RunDir, reference: RealReference, state: HealthState, records: int,
                 log: TrainingLog, bar: tqdm):
        self.config, self.run, self.log, self.bar = config, run, log, bar
        self.reference = reference
        self.probabilities = adversarial_loss(config.loss).discriminator_outputs_probabilities
        self.state, self.records = state, records
        self.every = config.health_every or config.sample_every
        self.acting = config.on_trouble != "warn"  # whether a trouble raises TroubleFound
        if not state.window:
            self.reset_window()

    def reset_window(self) -> None:
        self.state.window, self.state.window_steps = dict.fromkeys(WINDOW_KEYS, 0.0), 0

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def closing_due(self, step: int) -> bool:
        """Whether `step` is the run's last and no regular check falls on it."""
        return step == self.config.steps - 1 and not self.due(step)

    def add(self, scalars: dict[str, float]) -> None:
        """One step's losses and scores, into the means of the window since the last check."""
        for key in WINDOW_KEYS:
            self.state.window[key] += scalars[key]
        self.state.window_steps += 1

    def saw_fid(self, fid: float) -> None:
        """An evaluation's FID, which the next checks judge as a trend (--eval-every)."""
        self.state.latest_fid = fid if math.isfinite(fid) else None

    def check(self, step: int, samples: np.ndarray) -> Finding:
        """Judge step `step` from its samples and the window; write and show the verdict.

        Raises TroubleFound when the verdict turns to a trouble and --on-trouble is not warn.
        """
        signals = self.signals(samples)
        self.reset_window()
        first_check = self.state.first is None
        finding = judge(signals, self.state, step, self.probabilities)
        self.write(finding.record(step))
        self.show(step, finding, signals, first_check)
        if finding.changed and not finding.healthy and self.acting:
            raise TroubleFound(step, finding)
        return finding

    def closing_check(self, step: int, samples: np.ndarray) -> Finding:
        """Judge the run's last step without changing what the doctor remembers, and
        write the line uncounted: a run resumed for more steps drops it (the resume
        truncates health.jsonl to the checkpoint's count) and judges on exactly as the
        uninterrupted run. It reports and does not act; the run is over."""
        signals = self.signals(samples)
        finding = judge(signals, copy.deepcopy(self.state), step, self.probabilities)
        self.write({**finding.record(step), "closing": True}, counted=False)
        self.show(step, finding, signals, first_check=False)
        return finding

    def signals(self, samples: np.ndarray) -> dict[str, float]:
        """The samples' signals and the window's mean figures (and the newest FID)."""
        signals = self.reference.signals(samples.astype(np.float32))
        signals.update({key: self.state.window[key] / max(self.state.window_steps, 1) for key in WINDOW_KEYS})
        if self.state.latest_fid is not None:
            signals["fid"] = self.state.latest_fid
        return signals

    def show(self, step: int, finding: Finding, signals: dict[str, float], first_check: bool) -> None:
        self.log.health(step, finding.verdict, signals)
        if finding.changed or first_check:
            self.bar.write(describe(step, finding.verdict))

    def non_finite(self, step: int, scalars: dict[str, float]) -> None:
        """The line of a run about to stop on a non-finite loss: it diverged."""
        losses = {key: str(scalars[key]) for key in LOSS_KEYS}
        self.write(Finding("diverging", {"non_finite_losses": losses}).record(step))

    def write(self, record: dict, counted: bool = True) -> None:
        """Append a line; `records`, which a checkpoint keeps, counts the ones a resume keeps."""
        append_health(self.run.health, record)
        self.records += counted

    def checkpoint_state(self) -> dict:
        """What a checkpoint keeps of the doctor: its memory and how many lines it wrote."""
        return {**self.state.to_json(), "records": self.records}


def saved_health(state: dict) -> tuple[dict, int]:
    """A checkpoint state's doctor memory, as JSON (empty in checkpoints from before the
    doctor), and its count of health.jsonl lines: HealthMonitor.checkpoint_state undone."""
    memory = dict(state.get("health") or {})
    return memory, memory.pop("records", 0)


def describe(step: int, verdict: str) -> str:
    """The console line for a verdict that changed."""
    if verdict == HEALTHY:
        return f"health: step {step}: healthy"
    return f"health: step {step}: {verdict}: {TROUBLES[verdict]}. {REMEDIES[verdict]}"
