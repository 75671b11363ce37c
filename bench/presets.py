"""Train every preset long enough on a 2-core CPU to see whether it learns, and picture it.

    python bench/presets.py --mnist mnist.npz --anime anime/ --markdown docs/presets.md
    python bench/presets.py --only mlp-digits bilinear-digits --mnist mnist.npz --steps-scale 0.1

Each run is a `train.py` process with the preset's own defaults, on the first 5,000 MNIST
training digits (28x28 for mlp and bilinear, padded to 32x32 for the recipe and dcgan,
which need a power of two) or, for dcgan, also on the anime faces at 32x32x3. The table
gives the steps, the wall time of the whole command and the mean losses of the last tenth
of the run; each run's fixed-noise grids at steps 0, half-way and the end are put side by
side. Whether a preset learned is a judgement on those grids: write it under the table.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402

DIGITS_32 = ROOT / "data" / "digits"  # the embedded demo set: MNIST's first 5,000, padded to 32x32
# name -> (preset, data folder (the embedded digits, "mnist": 28x28 digits made from --mnist, "anime": --anime),
# steps, flags besides the preset's defaults)
RUNS = {
    "recipe-digits": ("recipe", DIGITS_32, 1500, "--image-size 32 --channels 1"),
    "dcgan-digits": ("dcgan", DIGITS_32, 1000, "--image-size 32 --channels 1"),
    "dcgan-anime": ("dcgan", "anime", 1000, "--image-size 32 --channels 3"),
    "mlp-digits": ("mlp", "mnist", 3000, ""),
    "bilinear-digits": ("bilinear", "mnist", 1000, ""),  # about 0.5 s a step at batch 128 on 2 cores
}
DIGITS = 5000


def mnist_28(out_root: Path, npz: Path) -> Path:
    """The first DIGITS MNIST training digits as 28x28 PNGs, written once by data/make_digits.py."""
    folder = out_root / "mnist28"
    if not folder.is_dir():
        subprocess.run(
            [sys.executable, str(ROOT / "data" / "make_digits.py"), str(npz), "--count", str(DIGITS),
             "--padding", "0", "--out", str(folder)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return folder


def train(out: Path, data: Path, steps: int, flags: list[str]) -> float:
    """Run train.py to completion with grids at 0, half-way and the end; returns seconds."""
    if out.exists():
        shutil.rmtree(out)
    command = [
        sys.executable, str(ROOT / "train.py"), "--data", str(data), "--out", str(out), "--seed", "0",
        "--steps", str(steps), "--sample-every", str(steps), "--save-every", str(steps // 2), "--keep", "1", *flags,
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _data_folder(data: Path | str, args: argparse.Namespace) -> Path:
    """A run's images: the embedded digits as they are, or the folder a flag names."""
    if data == "mnist":
        return mnist_28(args.out_root, args.mnist)
    return args.anime if data == "anime" else data


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(RUNS), help="runs to do [all]")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every run's steps (a quick check: 0.1)")
    parser.add_argument("--mnist", type=Path, help="MNIST .npz (x_train uint8) for the 28x28 digits of mlp and bilinear")
    parser.add_argument("--anime", type=Path, help="folder of anime faces, for dcgan-anime")
    parser.add_argument("--out-root", type=Path, default=Path("outputs") / "presets")
    parser.add_argument("--markdown", type=Path, help="write the table and panels here (e.g. docs/presets.md)")
    args = parser.parse_args()

    from gan.pictures.plots import progress_panel
    from gan.runs.folder import list_grids
    from gan.runs.text_log import read_log

    chosen = args.only or list(RUNS)
    missing = sorted({f"--{RUNS[name][1]}" for name in chosen if RUNS[name][1] in ("mnist", "anime")
                      and getattr(args, RUNS[name][1]) is None})
    if missing:
        raise UserError(f"the chosen runs need {' and '.join(missing)}; or pick others with --only")
    rows, panels = [], []
    for name in chosen:
        preset, data, steps, extra = RUNS[name]
        data = _data_folder(data, args)
        flags = ["--preset", preset, *shlex.split(extra)]
        steps = max(2, round(steps * args.steps_scale))
        out = args.out_root / name
        seconds = train(out, data, steps, flags)
        history = read_log(out / "training_log.txt")
        tail = slice(-max(1, len(history.steps) // 10), None)
        means = [getattr(history, key)[tail].mean() for key in ("d_real_loss", "d_fake_loss", "g_loss")]
        rows.append(
            f"| {name} | `{shlex.join(flags)}` | {steps} | {seconds:.0f} s | "
            + " | ".join(f"{mean:.3f}" for mean in means) + " |"
        )
        print(rows[-1], flush=True)
        if args.markdown:
            panel = args.markdown.parent / f"presets_{name}.png"
            progress_panel(list_grids(out / "images", fixed=True), panel, columns=3)
            panels.append(f"| {name} | ![{name}]({panel.name}) |")

    header = (
        "| run | flags | steps | time | D real loss | D fake loss | G loss |\n"
        "|---|---|---|---|---|---|---|"
    )
    table = "\n".join([header, *rows])
    print(table)
    if args.markdown:
        args.markdown.write_text(
            "# The presets, trained on a CPU\n\n"
            f"Made by `python bench/presets.py {shlex.join(sys.argv[1:])}` on {platform.machine()} "
            f"(seed 0; the losses are means over the last tenth of each run; the time is the whole command).\n\n"
            f"{table}\n\nFixed-noise grids at step 0, half-way and the end:\n\n| run | grids |\n|---|---|\n"
            + "\n".join(panels) + "\n"
        )


if __name__ == "__main__":
    sys.exit(cli.run(main))
