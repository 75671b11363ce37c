"""Plot a run's losses: `python plot_losses.py outputs/anime-1/training_log.txt`.

Reads the recipe's log format, also from a run that was killed mid-write (cut-off or
garbled lines are skipped and counted). Writes a PNG beside the log unless -o says where.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.text_log import read_log


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="training_log.txt, or the run folder holding it")
    parser.add_argument("--smooth", type=int, default=1, help="moving average over this many steps [1: none]")
    parser.add_argument("-o", "--output", type=Path, help="PNG path [the log's path with .png]")
    parser.add_argument("--show", action="store_true", help="also open an interactive window")
    args = parser.parse_args()
    log = args.log / "training_log.txt" if args.log.is_dir() else args.log
    if not log.is_file():
        raise UserError(f"no such log file: {log}")
    if args.smooth < 1:
        raise UserError(f"--smooth must be a positive integer; received {args.smooth}")
    history = read_log(log)
    if not len(history.steps):
        raise UserError(f"{log} holds no 'Step: N Disc: real loss: ...' lines")
    if history.skipped_lines:
        print(f"warning: skipped {history.skipped_lines} unreadable line(s) in {log}", file=sys.stderr)
    output = cli.output_file(args.output or log.with_suffix(".png"), ".png")

    from gan.pictures.plots import plot_losses

    plot_losses(history, output, smooth=args.smooth, show=args.show)
    print(f"{output}: {len(history.steps)} steps, {history.steps[0]} to {history.steps[-1]}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
