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

`--branch-from RUN` starts a `--lr-decay N` rung at the step its decay begins, from RUN's
checkpoint there: RUN trained the same rung without the decay and kept that checkpoint
(train.py ... --keep 0). Until that step the factor on the rates is 1, so the two runs
are one run (one seed repeats a CPU run exactly), and the rung trains only its last N
steps. Several decay lengths then cost one run and their decays.
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
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_name, load_average  # noqa: E402
from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402
from gan.runs.folder import RunDir, delete_checkpoint, list_checkpoints, list_grids, newest_model  # noqa: E402
from gan.runs.lock import TrainingLock  # noqa: E402
from gan.settings.config import FID_WEIGHTS, TrainConfig  # noqa: E402
from train import config_from_args  # noqa: E402

SHARED_FLAGS = "--image-size 32 --channels 3 --batch-size 64"
# name -> the flags that rung adds to the recipe; one option at a time, then combinations.
RUNGS = {
    "recipe": "",
    "recipe-float32": "--mixed-precision off",
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
    "lr-double+ema+width-2+mirror+mbstd": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --mbstd",
    "lr-double+ema+width-2+mirror+hinge": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --loss hinge",
    "lr-double+ema+width-2+mirror+bcr": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --consistency 10",
    "lr-double+ema+width-2+mirror+bcr-1": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --consistency 1",
    "lr-double+ema+width-2+mirror+r1-0.01": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --loss logits --r1 0.01 --r1-every 16",
    "lr-double+ema+width-2+mirror+decay-1000": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --lr-decay 1000",
    "lr-double+ema+width-2+mirror+decay-2000": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --lr-decay 2000",
    "lr-double+ema+width-2+mirror+decay-3000": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 2 --mirror --lr-decay 3000",
    "lr-double+ema+g-width-3+mirror": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 3 --width-d 2 --mirror",
    "lr-double+ema+g-width-3+mirror+mbstd": "--lr-g 3e-4 --lr-d 4e-4 --ema 0.999 --width 3 --width-d 2 --mirror --mbstd",
}
RATE = re.compile(r"mean over the last \d+ steps: .* \((\d+) img/s\)")
RESULTS = ROOT / "outputs" / "ladder" / "results.jsonl"


def _new_run_arguments(out: Path, args, flags: list[str]) -> list[str]:
    return ["--data", str(args.train), "--out", str(out), "--steps", str(args.steps), "--seed", str(args.seed),
            "--save-every", str(min(500, args.steps)), *shlex.split(SHARED_FLAGS), *flags]


def branch(out: Path, args, flags: list[str]) -> None:
    """Lay out the rung's folder as --branch-from's run at the step the rung's decay begins
    (see the module's docstring); a folder laid out before is left as it is."""
    if (out / "config.json").is_file():
        return
    wanted = config_from_args(_new_run_arguments(out, args, flags))[0]
    trunk_folder = args.branch_from
    trunk = TrainConfig.load(trunk_folder / "config.json")
    if not wanted.lr_decay:
        raise UserError(f"--branch-from: rung {args.rung} has no --lr-decay, so it has no step to branch at")
    if wanted.mixed_precision == "auto":  # a run records what auto resolved to
        wanted = replace(wanted, mixed_precision=trunk.mixed_precision)
    differing = [f.name for f in fields(TrainConfig)
                 if f.name not in ("out", "steps", "keep", "lr_decay") and getattr(trunk, f.name) != getattr(wanted, f.name)]
    if differing:
        raise UserError(f"--branch-from {trunk_folder}: it differs from rung {args.rung} in {', '.join(differing)}")
    start = args.steps - wanted.lr_decay
    trunk_run = RunDir(trunk_folder, trunk.steps)
    if start not in [checkpoint.step for checkpoint in list_checkpoints(trunk_run)]:
        raise UserError(f"--branch-from {trunk_folder}: it kept no checkpoint at step {start}, where the decay begins")
    shutil.copytree(trunk_folder, out)
    for checkpoint in list_checkpoints(RunDir(out, trunk.steps)):
        if checkpoint.step > start:
            delete_checkpoint(checkpoint)
    replace(trunk, out=str(out), lr_decay=wanted.lr_decay, keep=wanted.keep).save(out / "config.json")


def train(out: Path, args, flags: list[str]) -> float:
    """Run train.py for the rung (resuming it if its folder has a checkpoint, skipping it if
    it has trained its steps, starting it again if it has none); img/s of its last
    interval, NaN if nothing was trained."""
    checkpoints = list_checkpoints(RunDir(out, args.steps))
    if checkpoints and checkpoints[-1].step >= args.steps:
        return float("nan")
    resuming = bool(checkpoints)
    if not resuming and out.exists():  # killed before its first save: nothing in it to go on from
        TrainingLock.take(out).release()  # unless it is still training: then a one-line error
        shutil.rmtree(out)
    command = [sys.executable, str(ROOT / "train.py")] + (
        ["--resume", str(out), "--steps", str(args.steps)] if resuming else
        _new_run_arguments(out, args, flags)
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
    """The results file as a markdown table, one row per rung, step count and seed (the newest wins)."""
    rows = {}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        rows[(record["rung"], record["steps"], record["seed"])] = record
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
    parser.add_argument("--branch-from", type=Path, metavar="RUN",
                        help="start a --lr-decay rung from this run of the rung without it, at the step the decay begins")
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
    if args.branch_from:
        branch(out, args, shlex.split(RUNGS[args.rung]))
    rate = train(out, args, shlex.split(RUNGS[args.rung]))
    metrics = score(out, args)
    record = {"rung": args.rung + (", raw" if args.raw else ""), "flags": flags, "steps": args.steps, "seed": args.seed,
              "seconds_per_step": 64 / rate, "machine": f"{cpu_name()} ({platform.machine()}), load {load_average()}",
              "date": started, "run": str(out),
              **({"branched_from": str(args.branch_from)} if args.branch_from else {}), **{k: metrics[k] for k in ("fid", "kid", "kid_std", "precision", "recall")}}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as results:
        results.write(json.dumps(record) + "\n")
    if args.grids and not args.raw:  # the grids are drawn by the average
        last = list_grids(out / "images", fixed=True)[-1][1]
        seed_suffix = f"-s{args.seed}" if args.seed else ""  # seed 0 keeps the names the docs use
        shutil.copy(last, cli.output_file(args.grids / f"ladder_{args.rung}{seed_suffix}-{args.steps}.png"))
    print(f"{record['rung']}: FID {record['fid']:.1f}, KID {record['kid'] * 1e3:.1f}e-3, "
          f"{_seconds(record['seconds_per_step'])} s/step")


if __name__ == "__main__":
    sys.exit(cli.run(main))
