"""One rung of the faces ladder: train the recipe with some options on a training split,
then score it against faces it never saw. Rungs are run one at a time (each is minutes to
an hour on a CPU) and their results appended to a JSON-lines file; --table prints them
as the table of docs/quality.md.

    python bench/ladder.py --rung recipe --train faces-train/ --held-out faces-held-out/ \\
        --inception-weights ~/.cache/dcgan-studio/fid_inception_2015_12_05.npz --steps 3000
    python bench/ladder.py --table

A split by file order, for a folder of faces named 0.jpg ... 7999.jpg:

    mkdir faces-train faces-held-out
    for i in $(seq 0 6999); do ln -s $PWD/faces/$i.jpg faces-train/; done
    for i in $(seq 7000 7999); do ln -s $PWD/faces/$i.jpg faces-held-out/; done

Every rung shares 32x32x3, batch 64 and the seed; the step time is train.py's own rate
over its last save interval (tracing and the first save excluded). FID and KID come from
evaluate.py with the same judge for every rung: the held-out faces and --count generated
images from the run's newest generator (the moving average where the run keeps one).
`--raw` scores an --ema rung's trained weights instead: the average never feeds back into
training, so they are the same rung without --ema, and one run gives both rows.
"""

from __future__ import annotations

import json
import math
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_name, load_average  # noqa: E402
from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402
from gan.runs.folder import RunDir, list_checkpoints, list_grids, newest_model  # noqa: E402
from gan.settings.config import FID_WEIGHTS  # noqa: E402

SHARED_FLAGS = "--image-size 32 --channels 3 --batch-size 64"
# name -> the flags that rung adds to the recipe; one option at a time, then combinations.
RUNGS = {
    "recipe": "",
    "dcgan-init": "--init dcgan",
    "logits": "--loss logits",
    "hinge": "--loss hinge",
    "spectral-norm": "--loss hinge --spectral-norm",
    "ema": "--ema 0.999",
    "diffaugment": "--diffaugment color,translation,cutout",
    "r1-0.01": "--loss logits --r1 0.01",
    "r1-1": "--loss logits --r1 1",
    "r1-1-lazy": "--loss logits --r1 1 --r1-every 16",
    "mbstd": "--mbstd",
    "bilinear-up": "--upsample bilinear",
    "lr-2e-4": "--lr-g 2e-4 --lr-d 2e-4",
    "ttur": "--lr-g 1e-4 --lr-d 4e-4",
    "hinge+sn+ema": "--loss hinge --spectral-norm --ema 0.999",
    "sngan+ema": "--loss hinge --spectral-norm --no-disc-batch-norm --ema 0.999",
    "mbstd+ema": "--mbstd --ema 0.999",
    "ttur+ema": "--lr-g 1e-4 --lr-d 4e-4 --ema 0.999",
    "lr-double+ema": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999",
    "lr-triple+ema": "--lr-g 4.5e-4 --lr-d 6e-4 --ema 0.999",
    "g-updates-2+ema": "--g-updates 2 --ema 0.999",
    "dcgan+ema": "--preset dcgan --ema 0.999",
    "bilinear-up+ema": "--upsample bilinear --ema 0.999",
    "diffaugment+ema": "--diffaugment color,translation,cutout --ema 0.999",
    "logits+r1+ema+mbstd": "--loss logits --r1 1 --ema 0.999 --mbstd",
    "lr-double+ema+g-updates-2": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --g-updates 2",
    "lr-double+ema+bilinear-up": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --upsample bilinear",
    "lr-double+ema+hard-labels": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --label-noise 0",
    "lr-double+ema+spectral-norm": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --spectral-norm",
    "lr-double+ema+fakes-batch-stats": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --fakes-batch-stats",
    "lr-double+ema+diffaugment": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --diffaugment color,translation,cutout",
    "lr-double+ema+translation": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --diffaugment translation",
    "lr-double+ema+mirror": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --mirror",
    "lr-double+ema+dcgan-init": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --init dcgan",
    "lr-double+ema+width-2": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2",
    "lr-double+ema+width-3": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 3",
    "lr-double+ema+width-2+mirror": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror",
    "lr-double+ema+g-width-2": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --width-d 1",
    "lr-double+ema+d-width-2": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width-d 2",
    "lr-double+ema+width-2+d-width-3": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --width-d 3",
    "lr-double+ema+width-2+d-lr-double": "--lr-g 3e-4 --lr-d 8e-4 --ema 0.999 --width 2",
}
RATE = re.compile(r"mean over the last \d+ steps: .* \((\d+) img/s\)")
RESULTS = ROOT / "outputs" / "ladder" / "results.jsonl"


def train(out: Path, args, flags: list[str]) -> float:
    """Run train.py for the rung (resuming it if its folder has a checkpoint, skipping it if
    it has trained its steps); img/s of its last interval, NaN if nothing was trained."""
    checkpoints = list_checkpoints(RunDir(out, args.steps))
    if checkpoints and checkpoints[-1].step >= args.steps:
        return float("nan")
    resuming = (out / "config.json").is_file()
    command = [sys.executable, str(ROOT / "train.py")] + (
        ["--resume", str(out), "--steps", str(args.steps)] if resuming else
        ["--data", str(args.train), "--out", str(out), "--steps", str(args.steps), "--seed", str(args.seed),
         "--save-every", str(min(500, args.steps)), *shlex.split(SHARED_FLAGS), *flags]
    )
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"train.py failed for {out.name}: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    rates = RATE.findall(result.stdout)
    return float(rates[-1]) if rates else float("nan")


def score(out: Path, args) -> dict:
    """FID, KID, precision and recall of the run's newest generator (with --raw: its trained
    weights at the last step, not their moving average) against the held-out faces."""
    command = [sys.executable, str(ROOT / "evaluate.py"), str(out), "--real", str(args.held_out), "-n", str(args.count),
               "--inception-weights", str(args.inception_weights)]
    if args.raw:
        command += ["--model", str(newest_model(out, "generator"))]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"evaluate.py failed for {out.name}: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])


def table(results: Path) -> str:
    """The results file as a markdown table, one row per rung and step count (the newest wins)."""
    rows = {}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        rows[(record["rung"], record["steps"])] = record
    lines = ["| rung | flags | steps | seed | FID | KID x1e3 | precision | recall | s/step | machine | date |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows.values(), key=lambda r: (r["steps"], r["fid"])):
        lines.append(f"| {r['rung']} | `{r['flags'] or '(the recipe)'}` | {r['steps']} | {r['seed']} | {r['fid']:.1f} | "
                     f"{r['kid'] * 1e3:.1f} ± {r['kid_std'] * 1e3:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{_seconds(r['seconds_per_step'])} | {r['machine']} | {r['date']} |")
    return "\n".join(lines)


def _seconds(per_step: float) -> str:
    """s/step as the table prints it: a rung rescored without training has no rate of its own."""
    return "(not trained here)" if math.isnan(per_step) else f"{per_step:.3f}"


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", choices=list(RUNGS), help="the rung to run")
    parser.add_argument("--train", type=Path, help="folder of training faces")
    parser.add_argument("--held-out", type=Path, help="folder of faces kept out of training, the judge")
    parser.add_argument("--steps", type=int, default=3000, help="[3000: the screen; 10000 for the finalists]")
    parser.add_argument("--seed", type=int, default=0, help="[0]")
    parser.add_argument("--count", type=int, default=5000, help="generated images scored [5000]")
    parser.add_argument("--inception-weights", type=Path, default=Path(FID_WEIGHTS), help=f"[{FID_WEIGHTS}]")
    parser.add_argument("--out-root", type=Path, default=ROOT / "outputs" / "ladder", help="[outputs/ladder]")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON lines, one per finished rung [%(default)s]")
    parser.add_argument("--grids", type=Path, help="copy each finished rung's last fixed-noise grid here")
    parser.add_argument("--raw", action="store_true",
                        help="score an --ema rung's trained generator instead of its average, recorded as '<rung>, raw': "
                             "the average only reads the weights, so this is the rung without --ema")
    parser.add_argument("--table", action="store_true", help="print the results as a markdown table and stop")
    args = parser.parse_args()
    if args.table:
        print(table(args.results))
        return
    if not (args.rung and args.train and args.held_out):
        parser.error("--rung, --train and --held-out are needed (or --table)")
    flags = re.sub(r"\s*--ema \S+", "", RUNGS[args.rung]).strip() if args.raw else RUNGS[args.rung]
    if flags == RUNGS[args.rung] and args.raw:
        parser.error(f"--raw: rung {args.rung} keeps no moving average; its generator is scored without --raw")
    out = args.out_root / f"{args.rung}-s{args.seed}"
    started = time.strftime("%Y-%m-%d")
    rate = train(out, args, shlex.split(RUNGS[args.rung]))
    metrics = score(out, args)
    record = {"rung": args.rung + (", raw" if args.raw else ""), "flags": flags, "steps": args.steps, "seed": args.seed,
              "seconds_per_step": 64 / rate, "machine": f"{cpu_name()} ({platform.machine()}), load {load_average()}",
              "date": started, "run": str(out), **{k: metrics[k] for k in ("fid", "kid", "kid_std", "precision", "recall")}}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as results:
        results.write(json.dumps(record) + "\n")
    if args.grids and not args.raw:  # the grids are drawn by the average
        last = list_grids(out / "images", fixed=True)[-1][1]
        shutil.copy(last, cli.output_file(args.grids / f"ladder_{args.rung}-{args.steps}.png"))
    print(f"{record['rung']}: FID {record['fid']:.1f}, KID {record['kid'] * 1e3:.1f}e-3, "
          f"{_seconds(record['seconds_per_step'])} s/step")


if __name__ == "__main__":
    sys.exit(cli.run(main))
