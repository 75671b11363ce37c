"""A GIF of a run's grids in step order: `python make_gif.py outputs/`.

PATH is a run folder, a folder of runs (the newest is used) or a folder of grids.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.pictures.animation import write_gif
from gan.runs.folder import FIXED_SUFFIX, SAMPLE_SUFFIX, find_run, list_grids


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="run folder, folder of runs (newest used) or folder of grids")
    parser.add_argument("--fixed", action="store_true", help="the fixed-noise grids instead of the step samples")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second [4]")
    parser.add_argument("--label", action="store_true", help="burn 'step N' into each frame")
    parser.add_argument("-o", "--output", type=Path, help="GIF path [<run>/samples.gif or <run>/fixed.gif]")
    args = parser.parse_args()
    if not args.fps > 0:
        raise UserError(f"--fps must be positive; received {args.fps}")

    suffix = FIXED_SUFFIX if args.fixed else SAMPLE_SUFFIX
    if args.path.is_dir() and list_grids(args.path, args.fixed):
        images, run = args.path, args.path
    else:
        run = find_run(args.path)
        images = run / "images"
    frames = list_grids(images, args.fixed) if images.is_dir() else []
    if not frames:
        raise UserError(f"no NNNN{suffix} grids in {images}")
    output = cli.output_file(args.output or run / ("fixed.gif" if args.fixed else "samples.gif"))
    write_gif(frames, output, fps=args.fps, label=args.label)
    print(f"{output}: {len(frames)} frames, steps {frames[0][0]} to {frames[-1][0]}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
