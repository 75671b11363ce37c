"""A GIF (or MP4) of a run's grids in step order: `python make_gif.py outputs/`.

PATH is a run folder, a folder of runs (the newest is used) or a folder of grids.
--mp4 writes the fixed-noise grids as an H.264 video instead (needs imageio-ffmpeg).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.pictures.animation import write_gif, write_mp4
from gan.runs.folder import FIXED_SUFFIX, SAMPLE_SUFFIX, find_run, list_grids

MIN_FPS = 0.01  # slower frames would outlast a GIF frame's longest delay, 655.35 s


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="run folder, folder of runs (newest used) or folder of grids")
    parser.add_argument("--fixed", action="store_true", help="the fixed-noise grids instead of the step samples")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second [4]")
    parser.add_argument("--label", action="store_true", help="burn 'step N' into each frame")
    parser.add_argument("--mp4", action="store_true", help="an MP4 (H.264) of the fixed-noise grids instead of a GIF")
    parser.add_argument("-o", "--output", type=Path, help="output path [<run>/samples.gif, fixed.gif or fixed.mp4]")
    args = parser.parse_args()
    if not args.fps >= MIN_FPS:
        raise UserError(f"--fps must be at least {MIN_FPS} (a frame every {1 / MIN_FPS:g} s); received {args.fps}")

    fixed = args.fixed or args.mp4  # a video shows the same noise maturing, not fresh noise each frame
    suffix = FIXED_SUFFIX if fixed else SAMPLE_SUFFIX
    if args.path.is_dir() and list_grids(args.path, fixed):
        images, run = args.path, args.path
    else:
        run = find_run(args.path)
        images = run / "images"
    frames = list_grids(images, fixed) if images.is_dir() else []
    if not frames:
        raise UserError(f"no NNNN{suffix} grids in {images}")
    extension = ".mp4" if args.mp4 else ".gif"
    output = cli.output_file(args.output or run / (("fixed" if fixed else "samples") + extension), extension)
    (write_mp4 if args.mp4 else write_gif)(frames, output, fps=args.fps, label=args.label)
    print(f"{output}: {len(frames)} frames, steps {frames[0][0]} to {frames[-1][0]}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
