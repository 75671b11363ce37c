"""RUN/health.jsonl: one JSON object per health check (step, verdict, evidence, remedy on
trouble lines) and one per rollback, read back tolerantly and cut at a checkpoint on
resume like the text log."""

from __future__ import annotations

import json
from pathlib import Path

from gan.errors import UserError
from gan.runs.atomic import atomic_write

HEALTHY = "healthy"


def append_health(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


def read_health(path: Path) -> list[dict]:
    """The records of a health log, oldest first. A last line cut off mid-write is
    dropped; any other line that is not a JSON object with a step raises UserError."""
    records = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines) and not line.endswith("\n"):
                break
            raise UserError(f"{path}: line {number} is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise UserError(f"{path}: line {number} is not a health record (no step)")
        records.append(record)
    return records


def truncate_health(path: Path, count: int) -> None:
    """Keep the first `count` records, those written before the checkpoint a run resumes
    from (a rollback makes steps repeat, so a step number cannot mark the cut)."""
    if not path.exists():
        return
    kept = read_health(path)[:count]
    with atomic_write(path) as partial:
        partial.write_text("".join(json.dumps(record) + "\n" for record in kept), encoding="utf-8")
