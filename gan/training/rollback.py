"""--on-trouble stop and rollback: what the run does once a health check names a trouble.

A rollback puts the newest healthy checkpoint back into the running networks, applies
the trouble's remedy (health_rules.rollback_changes: learning-rate factors), forgets the
abandoned steps' checkpoints (the loop cuts their log lines) and goes on from that checkpoint's step,
with the data stream where it was then. It is written to health.jsonl, the console and
config.json, whose learning rates become the new ones, so a resumed run goes on exactly
as the uninterrupted one would. After MAX_ROLLBACKS the run stops instead.
"""

from __future__ import annotations

import dataclasses

from gan.errors import RunStopped
from gan.evaluation.health_rules import REMEDIES, TROUBLES, HealthState, rollback_changes
from gan.runs.folder import Checkpoint, delete_checkpoint, list_checkpoints
from gan.runs.health_log import HEALTHY
from gan.training import checkpoints, schedule
from gan.training.health import HealthMonitor, TroubleFound, saved_health
from gan.training.session import Session

MAX_ROLLBACKS = 3


def healthy_checkpoint(session: Session, state: HealthState) -> Checkpoint | None:
    """The newest checkpoint saved while the run was healthy and not later than its last
    healthy check (a checkpoint's generator made that check's samples, or earlier ones)."""
    if state.last_healthy_step is None:
        return None
    for checkpoint in reversed(list_checkpoints(session.run)):
        if checkpoint.step <= state.last_healthy_step and _saved_healthy(checkpoint):
            return checkpoint
    return None


def _saved_healthy(checkpoint: Checkpoint) -> bool:
    health = checkpoint.read_state().get("health") or {}
    return health.get("verdict") == HEALTHY and health.get("pending") is None


def stopped(session: Session, trouble: TroubleFound, step: int, reason: str = "") -> RunStopped:
    verdict = trouble.finding.verdict
    return RunStopped(
        f"error: health check at step {trouble.step}: {verdict}: {TROUBLES[verdict]}. {reason}"
        f"Stopped with a checkpoint at step {step}; see python doctor.py {session.run.root}. {REMEDIES[verdict]}",
        exit_code=1,
    )


def refusal(session: Session, state: HealthState, target: Checkpoint | None) -> str | None:
    """Why the run cannot roll back to `target` (its `healthy_checkpoint`) now; None: it can."""
    if state.rollbacks >= MAX_ROLLBACKS:
        return f"It has rolled back {state.rollbacks} times already, the most --on-trouble rollback allows. "
    if target is None:
        return ("No checkpoint was saved while the run was healthy, so there is nothing to roll back to "
                f"(checkpoints come every --save-every {session.config.save_every} steps; fewer steps between "
                "them give a rollback more to choose from). ")
    return None


def roll_back(session: Session, monitor: HealthMonitor, trouble: TroubleFound, target: Checkpoint) -> int:
    """Roll the run back to `target`, its newest healthy checkpoint, with the remedy
    applied (check `refusal` first); return the step it goes on from."""
    verdict, state = trouble.finding.verdict, monitor.state
    saved = checkpoints.restore_into(session.model, target)
    changes = _apply_remedy(session, rollback_changes(verdict, trouble.finding.evidence), target.step)
    for newer in list_checkpoints(session.run):
        if newer.step > target.step:
            delete_checkpoint(newer)
    session.batches = session.batches_from(target.step)
    memory, _ = saved_health(saved)
    monitor.state = HealthState.from_json({**memory, "rollbacks": state.rollbacks + 1})
    monitor.write({"step": trouble.step, "event": "rollback", "verdict": verdict, "to_step": target.step,
                   "changes": changes, "rollbacks": state.rollbacks + 1, "remedy": REMEDIES[verdict]})
    return target.step


def _apply_remedy(session: Session, factors: dict[str, float], step: int) -> dict:
    """The configured learning rates scaled by `factors`, in config.json and in the
    optimizers (as of `step`, with any --lr-decay); returns each change as {setting: [old, new]}."""
    config = session.config
    changes = {name: [getattr(config, name), getattr(config, name) * factor] for name, factor in factors.items()}
    session.config = dataclasses.replace(config, **{name: new for name, (_, new) in changes.items()})
    session.config.save(session.run.config)
    schedule.assign_learning_rates(session.model, session.config, step)
    return changes
