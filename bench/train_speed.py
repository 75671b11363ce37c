"""End-to-end images/s of `python train.py`, this working tree against another revision,
side by side in one run: the loop as a user runs it (data pipeline, step, log lines,
TensorBoard, grids), not the step alone.

    python bench/train_speed.py --baseline ad22f53                     # the embedded digits
    python bench/train_speed.py --baseline ad22f53 --data faces/ --image-size 64 --channels 3 --batch-size 64 --steps 60

The baseline is checked out with `git worktree` into a temporary folder. Each round runs
both, in fresh processes with the same flags and seed, the baseline first in odd rounds
and this tree first in even ones; the rate
is the one train.py prints for its second half (the first half includes tracing and the
first checkpoint), so both sides pay for one checkpoint in the timed part alike.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_name, load_average  # noqa: E402
from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RATE = re.compile(r"step \d+/\d+: mean over the last \d+ steps: .* \((\d+) img/s\)")


def rate_of(tree: Path, data: str | None, flags: list[str], steps: int, out: Path) -> float:
    """img/s over the second half of one train.py run from `tree`."""
    command = [sys.executable, "train.py", "--out", str(out), "--steps", str(steps), "--save-every", str(steps // 2),
               "--seed", "0", *(["--data", data] if data else []), *flags]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"train.py in {tree} failed: {result.stderr.strip().splitlines()[-1:]}")
    rates = RATE.findall(result.stdout)
    return float(rates[-1])


def worktree(revision: str, folder: Path) -> Path:
    """`revision` checked out (detached) into `folder`."""
    result = subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"cannot check out {revision}: {result.stderr.strip()}")
    return folder


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. a commit before a change)")
    parser.add_argument("--data", help="folder of images [the embedded digits, as train.py without --data]")
    parser.add_argument("--steps", type=int, default=400, help="steps per run; the second half is timed [400]")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/current pairs [2]")
    args, train_flags = parser.parse_known_args()
    if args.steps < 4 or args.steps % 2 or args.rounds < 1:
        parser.error("--steps must be an even number of at least 4 (the second half is timed) and --rounds at least 1")
    with tempfile.TemporaryDirectory(prefix="train-speed-") as scratch:
        trees = {"baseline " + args.baseline: worktree(args.baseline, Path(scratch) / "baseline"), "this tree": PROJECT_ROOT}
        try:
            print(f"machine: {cpu_name()}, load {load_average()} at the start; flags: {' '.join(train_flags) or '(defaults)'}, "
                  f"--steps {args.steps}, timed: the last {args.steps - args.steps // 2}")
            rates = {name: [] for name in trees}
            for round_number in range(args.rounds):
                # ABBA: each side goes first every other round, so order effects cancel.
                order = list(trees.items())[:: 1 if round_number % 2 == 0 else -1]
                for name, tree in order:
                    out = Path(scratch) / f"run-{round_number}-{len(rates[name])}-{name.split()[0]}"
                    rates[name].append(rate_of(tree, args.data, train_flags, args.steps, out))
                    print(f"round {round_number + 1}: {name}: {rates[name][-1]:.0f} img/s")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(Path(scratch) / "baseline")], cwd=PROJECT_ROOT)
    baseline, current = (statistics.median(values) for values in rates.values())
    print(f"median: baseline {baseline:.0f} img/s, this tree {current:.0f} img/s ({current / baseline:.3f}x)")


if __name__ == "__main__":
    sys.exit(cli.run(main))
