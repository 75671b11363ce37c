"""From a run's health signals to a verdict: "healthy" or the name of a trouble, with the
evidence behind it and a remedy in one sentence.

The rules look first at what the generator makes, and only then at the losses to name
the trouble: losses alone cannot tell a generator stuck at noise from one that trains
fast and looks odd on the loss plot. A trouble is declared only when its condition holds
at CONFIRM checks in a row, so one unlucky batch of samples raises no alarm. Every
threshold is a ratio to the run's own first check or to the real data, set on the
calibration runs of docs/doctor.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from gan.runs.health_log import HEALTHY

CONFIRM = 2  # checks in a row a condition must hold before it is declared
WARMUP_STEPS = 300  # before this, a generator may still look like its untrained self
STUCK_REALISM = 0.75  # realism above this after the warm-up: the samples are still the untrained generator's
STUCK_PROGRESS = 0.05  # ... unless it fell by more than this share since the check before: slow, not stuck
# Whole-spectrum gap, over the untrained one's, above which a generator that stopped
# improving has stalled: a stalled wgan-clip digits run kept above 0.59; a healthy
# 64x64 faces run still sat at 0.46-0.47, slowly falling, at steps 600 to 1,000.
STALL_STRUCTURE = 0.52
COLLAPSE_DIVERSITY = 0.3  # samples less than this varied, relative to real batches: mode collapse
D_WINS_MARGIN = 0.6  # D's mean score gap between reals and fakes (probabilities) at or above this: D wins
REGRESS_FACTOR = 2.0  # realism this many times its best (and REGRESS_MARGIN above it): quality regressing
REGRESS_MARGIN = 0.25
FID_REGRESS_FACTOR = 1.3  # with --eval-every: FID this many times its best
LOSS_EXPLOSION = 100.0  # a loss this many times its first check's (and above 1): diverging
LOSS_KEYS = ("d_real_loss", "d_fake_loss", "g_loss")

TROUBLES = {
    "g_stuck_noise": "the generator's samples still look like its untrained output: it is not learning",
    "g_stalled": "the samples stopped improving while still far from the data: the generator settled on a pattern (blobs, a lattice) rather than the data's shapes",
    "d_wins": "the discriminator tells every real image from every fake, and the samples stopped improving",
    "mode_collapse": "the samples are nearly all alike: the generator found a few outputs that fool the discriminator",
    "diverging": "the losses are blowing up or not finite: the updates are too large to be stable",
    "quality_regressing": "the samples were closer to the data earlier in this run and have got clearly worse since",
}
REMEDIES = {
    "g_stuck_noise": "Start again with learning rates nearer the recipe's (--lr-g 1.5e-4, --lr-d 2e-4): raise the one far below them, usually --lr-g; if the discriminator cannot tell the fakes apart either and a regulariser is on, lower it (--consistency, --r1).",
    "g_stalled": "Start again with both learning rates (--lr-g, --lr-d) ten times lower, or nearer the recipe's 1.5e-4 and 2e-4 if they are above them.",
    "d_wins": "Halve the discriminator's learning rate (--lr-d), or make its job harder: --diffaugment color,translation,cutout or --r1 1 with --loss logits.",
    "mode_collapse": "Lower both learning rates (--lr-g, --lr-d), or add --mbstd so the discriminator sees each batch's variety.",
    "diverging": "Halve both learning rates (--lr-g, --lr-d), or use --loss hinge --spectral-norm for a more stable discriminator.",
    "quality_regressing": "Use the generator of an earlier checkpoint (or best_generator.keras with --eval-every), and halve both learning rates to go on.",
}
# What --on-trouble rollback changes before it goes on: learning-rate factors per network.
ROLLBACK_CHANGES = {
    "g_stalled": {"lr_g": 0.1, "lr_d": 0.1},
    "d_wins": {"lr_d": 0.5},
    "mode_collapse": {"lr_g": 0.5, "lr_d": 0.5},
    "diverging": {"lr_g": 0.5, "lr_d": 0.5},
    "quality_regressing": {"lr_g": 0.5, "lr_d": 0.5},
}
STUCK_SPEED_UP = 10.0  # g_stuck_noise: the learning rate of the network that is not learning, times this


def rollback_changes(verdict: str, evidence: dict) -> dict[str, float]:
    """Learning-rate factors the rollback of `verdict` applies. A stuck generator facing a
    discriminator that tells its output from the data (margin at D_WINS_MARGIN or more) is
    the one not learning; facing one that cannot, the discriminator is."""
    if verdict != "g_stuck_noise":
        return ROLLBACK_CHANGES[verdict]
    return {"lr_g" if evidence["d_margin"]["value"] >= D_WINS_MARGIN else "lr_d": STUCK_SPEED_UP}


def realism(signals: dict[str, float], baseline: dict[str, float]) -> float:
    """How far the samples sit from the data, relative to the untrained generator's: the
    mean of the spectrum and pixel-value gaps, each over the untrained one's (1: as far as
    the untrained generator; 0: the data's)."""
    return 0.5 * (signals["spectrum_gap"] / max(baseline["spectrum_gap"], 1e-6)
                  + signals["pixel_gap"] / max(baseline["pixel_gap"], 1e-6))


def structure(signals: dict[str, float], baseline: dict[str, float]) -> float | None:
    """The whole-spectrum gap over the untrained generator's (1: as far as the untrained
    generator; 0: the data's); None for signals recorded before this one existed."""
    if "structure_gap" not in signals or "structure_gap" not in baseline:
        return None
    return signals["structure_gap"] / max(baseline["structure_gap"], 1e-6)


def settled_structure(signals: dict[str, float], state: "HealthState") -> float | None:
    """The structure of this check and the one before, averaged: one batch of 32 samples
    swings it by a fifth, and a stall is a level the run keeps, not one reading."""
    level = structure(signals, state.baseline)
    if level is None or not math.isfinite(state.previous_structure):
        return level
    return 0.5 * (level + state.previous_structure)


def discriminator_margin(d_real: float, d_fake: float, scores_are_probabilities: bool) -> float:
    """D's mean judgement of reals minus that of fakes, as probabilities (raw scores
    through a sigmoid), so one threshold serves every loss."""
    if not scores_are_probabilities:
        d_real, d_fake = 1 / (1 + math.exp(-max(min(d_real, 50), -50))), 1 / (1 + math.exp(-max(min(d_fake, 50), -50)))
    return d_real - d_fake


@dataclass
class HealthState:
    """What the rules remember between checks; saved in every checkpoint so a resumed
    run judges exactly as the uninterrupted one would."""

    baseline: dict[str, float]  # the untrained generator's signals (see gan.training.health.untrained_signals)
    first: dict[str, float] | None = None  # the first check's signals and losses
    best_realism: float = math.inf
    previous_realism: float = math.inf
    previous_structure: float = math.inf
    best_structure: float = math.inf  # the lowest settled structure so far
    best_fid: float = math.inf
    latest_fid: float | None = None  # the newest evaluation's, with --eval-every
    pending: str | None = None  # a condition seen, not yet confirmed
    pending_count: int = 0
    verdict: str = HEALTHY
    last_healthy_step: int | None = None
    rollbacks: int = 0
    window: dict[str, float] = field(default_factory=dict)  # sums of the step figures since the last check
    window_steps: int = 0

    def to_json(self) -> dict:
        return {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
                for key, value in self.__dict__.items()}

    @classmethod
    def from_json(cls, values: dict) -> "HealthState":
        state = cls(**values)
        for setting in fields(cls):  # to_json wrote the infinite ones (nothing seen yet) as null
            if setting.default == math.inf and getattr(state, setting.name) is None:
                setattr(state, setting.name, math.inf)
        return state


@dataclass
class Finding:
    verdict: str
    evidence: dict = field(default_factory=dict)
    changed: bool = False

    @property
    def healthy(self) -> bool:
        return self.verdict == HEALTHY

    def record(self, step: int) -> dict:
        """The health.jsonl line: a trouble line names its trouble and remedy."""
        record = {"step": step, "verdict": self.verdict, "evidence": self.evidence}
        if not self.healthy:
            record["problem"] = TROUBLES[self.verdict]
            record["remedy"] = REMEDIES[self.verdict]
        return record


def condition(signals: dict[str, float], state: HealthState, step: int, scores_are_probabilities: bool) -> tuple[str | None, dict]:
    """The trouble these signals show on their own (None: none), and the evidence."""
    first = state.first
    level = realism(signals, state.baseline)
    settled = settled_structure(signals, state)
    margin = discriminator_margin(signals["d_real"], signals["d_fake"], scores_are_probabilities)
    evidence = {
        "realism": {"value": round(level, 4), "stuck_above": STUCK_REALISM,
                    "best": None if math.isinf(state.best_realism) else round(state.best_realism, 4)},
        "diversity": {"value": round(signals["diversity"], 4), "collapse_below": COLLAPSE_DIVERSITY},
        "d_margin": {"value": round(margin, 4), "wins_at": D_WINS_MARGIN},
        "signals": {key: round(value, 5) for key, value in signals.items()},
    }
    if settled is not None:
        evidence["structure"] = {"value": round(structure(signals, state.baseline), 4), "settled": round(settled, 4),
                                 "stalled_above": STALL_STRUCTURE,
                                 "best": None if math.isinf(state.best_structure) else round(state.best_structure, 4)}
    if "fid" in signals:
        evidence["fid"] = {"value": round(signals["fid"], 3), "best": None if math.isinf(state.best_fid) else round(state.best_fid, 3)}
    # Non-finite steps never reach the window (the --on-nan guard handles them), and a log
    # without some figure gives NaN: only finite losses count here.
    if any(abs(signals[key]) > LOSS_EXPLOSION * max(abs(first[key]), 1.0)
           for key in LOSS_KEYS if math.isfinite(signals[key]) and math.isfinite(first[key])):
        return "diverging", evidence
    if signals["diversity"] < COLLAPSE_DIVERSITY and step >= WARMUP_STEPS:
        return "mode_collapse", evidence
    regressed = level > max(REGRESS_FACTOR * state.best_realism, state.best_realism + REGRESS_MARGIN)
    fid_regressed = "fid" in signals and signals["fid"] > FID_REGRESS_FACTOR * state.best_fid
    if state.best_realism < STUCK_REALISM and (regressed or fid_regressed):
        return ("d_wins" if margin >= D_WINS_MARGIN else "quality_regressing"), evidence
    learning = level < (1 - STUCK_PROGRESS) * state.previous_realism
    if step >= WARMUP_STEPS and level > STUCK_REALISM and state.best_realism >= STUCK_REALISM and not learning:
        return "g_stuck_noise", evidence
    if (step >= WARMUP_STEPS and settled is not None and settled > STALL_STRUCTURE
            and not settled < (1 - STUCK_PROGRESS) * state.best_structure):
        return "g_stalled", evidence
    return None, evidence


def judge(signals: dict[str, float], state: HealthState, step: int, scores_are_probabilities: bool) -> Finding:
    """Update `state` with one check's signals and return the verdict it supports."""
    if state.first is None:
        state.first = dict(signals)
    trouble, evidence = condition(signals, state, step, scores_are_probabilities)
    if trouble is None:
        state.pending, state.pending_count = None, 0
        verdict = HEALTHY
    else:
        state.pending_count = state.pending_count + 1 if trouble == state.pending else 1
        state.pending = trouble
        evidence["seen_in_a_row"] = {"trouble": trouble, "value": state.pending_count, "declared_at": CONFIRM}
        verdict = trouble if state.pending_count >= CONFIRM else (state.verdict if state.verdict != HEALTHY else HEALTHY)
    settled = settled_structure(signals, state)
    if settled is not None:
        state.previous_structure = structure(signals, state.baseline)
        state.best_structure = min(state.best_structure, settled)
    state.previous_realism = realism(signals, state.baseline)
    state.best_realism = min(state.best_realism, state.previous_realism)
    if "fid" in signals:
        state.best_fid = min(state.best_fid, signals["fid"])
    if verdict == HEALTHY and trouble is None:
        state.last_healthy_step = step
    changed = verdict != state.verdict
    state.verdict = verdict
    return Finding(verdict, evidence, changed)
