"""A finished (or running) run's health, read back: its checks as a timeline of step
ranges with one verdict each, its rollbacks, and its final verdict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gan.errors import UserError
from gan.evaluation.health_rules import REMEDIES, TROUBLES
from gan.runs.health_log import HEALTHY


@dataclass
class Stretch:
    """Consecutive checks that gave the same verdict."""

    first_step: int
    last_step: int
    verdict: str


def check_records(records: list[dict], source: Path) -> None:
    """Raise UserError at the first record that is neither a check with a verdict this
    doctor knows and its evidence, nor a rollback with the step it went back to: a log
    edited by hand, or written by a newer version, would otherwise fail deep in the report."""
    for record in records:
        if record.get("event") == "rollback":
            known = isinstance(record.get("to_step"), int)
        else:
            known = ("event" not in record and record.get("verdict") in (HEALTHY, *TROUBLES)
                     and isinstance(record.get("evidence"), dict))
        if not known:
            raise UserError(f"{source}: the record of step {record['step']} is neither a health check "
                            "with a known verdict and its evidence nor a rollback")


def checks_of(records: list[dict]) -> list[dict]:
    """The health checks of a health log, without its rollback events."""
    return [record for record in records if "event" not in record]


def rollbacks_of(records: list[dict]) -> list[dict]:
    return [record for record in records if record.get("event") == "rollback"]


def surviving_checks(records: list[dict]) -> list[dict]:
    """The checks of the steps the run kept: a rollback to step S drops the checks of
    step S on that it had made before (the run made them again)."""
    kept: list[dict] = []
    for record in records:
        if record.get("event") == "rollback":
            kept = [check for check in kept if check["step"] < record["to_step"]]
        elif "event" not in record:
            kept.append(record)
    return kept


def timeline(records: list[dict]) -> list[Stretch]:
    """The checks as stretches, in the order they were made (a rollback starts a new one)."""
    stretches: list[Stretch] = []
    for record in records:
        if record.get("event") == "rollback":
            stretches.append(Stretch(record["step"], record["to_step"], "rollback"))
        elif stretches and stretches[-1].verdict == record["verdict"]:
            stretches[-1].last_step = record["step"]
        else:
            stretches.append(Stretch(record["step"], record["step"], record["verdict"]))
    return stretches


def describe_stretch(stretch: Stretch) -> str:
    if stretch.verdict == "rollback":
        return f"  step {stretch.first_step}: rolled back to step {stretch.last_step}"
    steps = (f"step {stretch.first_step}" if stretch.first_step == stretch.last_step
             else f"steps {stretch.first_step}-{stretch.last_step}")
    return f"  {steps}: {stretch.verdict}"


def final_verdict(records: list[dict]) -> str:
    """The verdict of the run's newest check."""
    checks = checks_of(records)
    return checks[-1]["verdict"] if checks else HEALTHY


def report(records: list[dict]) -> list[str]:
    """The lines doctor.py prints: the timeline, then the final verdict in plain words."""
    lines = ["Timeline:", *(describe_stretch(stretch) for stretch in timeline(records))]
    verdict = final_verdict(records)
    rollbacks = len(rollbacks_of(records))
    if rollbacks:
        lines.append(f"Rolled back {rollbacks} time(s) (--on-trouble rollback).")
    if verdict == HEALTHY:
        checks = checks_of(records)
        newest = checks[-1] if checks else {"step": 0, "evidence": {}}
        last = ", the run's last" if newest.get("closing") else ""
        lines.append(f"Final verdict: healthy (newest check: step {newest['step']}{last}).")
        suspected = newest["evidence"].get("seen_in_a_row", {})
        if "trouble" in suspected:  # logs from before the trouble was named there have only the count
            trouble = suspected["trouble"]
            lines.append(f"Watch: the newest check saw signs of {trouble} ({TROUBLES[trouble]}), "
                         f"{suspected['value']} of the {suspected['declared_at']} checks in a row that declare it. "
                         f"If it goes on: {REMEDIES[trouble]}")
    else:
        lines.append(f"Final verdict: {verdict}: {TROUBLES[verdict]}.")
        lines.append(f"Remedy: {REMEDIES[verdict]}")
    return lines
