"""Diagnose a training run: `python doctor.py outputs/digits-1`.

Prints the run's health as a timeline of step ranges with their verdicts (from the live
checks in RUN/health.jsonl), its final verdict and the remedy, and writes RUN/health.png:
the losses and the health signals with the verdicts as coloured bands. A run without
health.jsonl (made before the live checks) is diagnosed from its text log and sample
grids with the same rules, and the output says so.

Exit status: 0 if the newest verdict is healthy, 1 if the run is in trouble, 2 on bad
input (no such folder, not a run, damaged files).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.health_log import HEALTHY, read_health
from gan.runs.text_log import LossHistory, read_log


def main() -> int:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run folder (outputs/<run>)")
    parser.add_argument("-o", "--output", type=Path, help="the picture [RUN/health.png]")
    args = parser.parse_args()
    run = args.run
    if not run.is_dir():
        raise UserError(f"no such run folder: {run}")
    log = run / "training_log.txt"
    if not log.is_file():
        raise UserError(f"{run} is not a run folder (no training_log.txt)")
    history = read_log(log)
    records = _records(run, history)
    from gan.evaluation.diagnosis import final_verdict, report, rollbacks_of, surviving_checks
    from gan.pictures.plots import plot_health

    output = cli.output_file(args.output or run / "health.png", ".png")
    for line in report(records):
        print(line)
    plot_health(history, surviving_checks(records), [r["to_step"] for r in rollbacks_of(records)], output)
    print(f"Picture: {output}")
    return 0 if final_verdict(records) == HEALTHY else 1


def _records(run: Path, history: LossHistory) -> list[dict]:
    """The live checks, or, for a run without them, the same rules replayed on its grids."""
    health = run / "health.jsonl"
    if health.is_file():
        records = read_health(health)
        if not records:
            raise UserError(f"{health} holds no health checks")
        from gan.evaluation.diagnosis import check_records

        check_records(records, health)
        print(f"Health checks: {len(records)} records in {health}")
        return records
    if not (run / "config.json").is_file():
        raise UserError(f"{run} has neither health.jsonl nor config.json: nothing to diagnose it from")
    from gan.runtime import set_up_tensorflow
    from gan.settings.config import TrainConfig

    set_up_tensorflow()
    from gan.training.offline_doctor import replay

    print(f"{run} has no health.jsonl (it was made before the live health checks): "
          "diagnosing from training_log.txt and the sample grids instead")
    return replay(TrainConfig.load(run / "config.json"), run / "images", history)


if __name__ == "__main__":
    sys.exit(cli.run(main))
