"""The fixed-noise grids of a run side by side, each labelled with its step.

    python progress_panel.py outputs/anime-1 --every 1500 -o panel.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.folder import find_run, list_grids


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder, or a folder of runs (the newest is used)")
    parser.add_argument("--every", type=int, help="only steps that are multiples of this [all fixed grids]")
    parser.add_argument("--columns", type=int, default=4, help="grids per row [4]")
    parser.add_argument("--samples", action="store_true", help="use the step samples instead of the fixed-noise grids")
    parser.add_argument("-o", "--output", type=Path, help="PNG path [<run>/progress_panel.png]")
    args = parser.parse_args()
    for name in ("every", "columns"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name} must be a positive integer; received {value}")
    run = find_run(args.run)
    images = run / "images"
    grids = list_grids(images, fixed=not args.samples) if images.is_dir() else []
    if args.every:
        grids = [(step, path) for step, path in grids if step % args.every == 0]
    if not grids:
        raise UserError(f"no grids in {images}" + (f" at multiples of {args.every}" if args.every else ""))
    output = cli.output_file(args.output or run / "progress_panel.png", ".png")

    from gan.pictures.plots import progress_panel

    progress_panel(grids, output, columns=args.columns)
    print(f"{output}: steps {', '.join(str(step) for step, _ in grids)}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
