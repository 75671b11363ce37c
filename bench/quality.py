"""Train the recipe and variants on the same data for the same steps, then score each
with the same FID/KID/precision/recall settings. Prints a table; --markdown writes it.

    python bench/quality.py --inception-weights ~/.cache/dcgan-studio/fid_inception_2015_12_05.npz \\
        --variant recipe= --variant "ema=--ema 0.999" --markdown docs/quality.md

Defaults: the embedded digits (32x32x1, batch 32, 3,000 steps, seed 0), 2,048 generated
images against all 5,000 real ones. Each training run is a separate `train.py` process.
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

from gan.runs.folder import list_grids  # noqa: E402
from gan.settings.config import FID_WEIGHTS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "digits"), help="training images [the embedded digits]")
    parser.add_argument("--real", help="real images to score against [--data]")
    parser.add_argument("--train-flags", default="--image-size 32 --channels 1 --batch-size 32 --steps 3000 --seed 0",
                        help="flags every variant shares")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="a named set of extra train.py flags; repeat [recipe= and ema=--ema 0.999]")
    parser.add_argument("--eval-count", type=int, default=2048)
    parser.add_argument("--inception-weights", default=FID_WEIGHTS)
    parser.add_argument("--out-root", type=Path, default=Path("outputs") / "quality")
    parser.add_argument("--markdown", type=Path, help="write the table and grids here (e.g. docs/quality.md)")
    args = parser.parse_args()
    variants = dict(v.split("=", 1) for v in (args.variant or ["recipe=", "ema=--ema 0.999"]))

    runs = {}
    for name, flags in variants.items():
        out = args.out_root / name
        if out.exists():
            shutil.rmtree(out)
        command = [sys.executable, str(ROOT / "train.py"), "--data", args.data, "--out", str(out),
                   *shlex.split(args.train_flags), *shlex.split(flags)]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        runs[name] = (out, time.perf_counter() - started)
        print(f"trained {name} in {runs[name][1]:.0f} s", flush=True)

    from gan.evaluation.evaluator import Evaluator
    from gan.pictures.latent import load_generator
    from gan.runs.folder import newest_generator
    from gan.runtime import set_up_tensorflow
    from gan.settings.config import TrainConfig

    device = set_up_tensorflow()
    first_run = next(iter(runs.values()))[0]
    first_config = TrainConfig.load(first_run / "config.json")
    evaluator = Evaluator(args.inception_weights, args.real or args.data, first_config.image_size, first_config.channels)
    rows = []
    for name, (out, seconds) in runs.items():
        result = evaluator.score_generator(load_generator(newest_generator(out)), args.eval_count, seed=0)
        rows.append((name, variants[name] or "(none)", result, seconds))
    header = "| variant | extra flags | FID | KID x1e3 | precision | recall | train time |\n|---|---|---|---|---|---|---|"
    lines = [header] + [
        f"| {name} | `{flags}` | {r['fid']:.2f} | {r['kid'] * 1e3:.2f} ± {r['kid_std'] * 1e3:.2f} | "
        f"{r['precision']:.3f} | {r['recall']:.3f} | {seconds:.0f} s |"
        for name, flags, r, seconds in rows
    ]
    table = "\n".join(lines)
    n_real = rows[0][2]["n_real"]
    setting = (f"data {args.data}, shared flags `{args.train_flags}`, {args.eval_count} generated vs {n_real} real images, "
               f"machine: {platform.machine()}, {device}")
    print(table + "\n" + setting)
    if args.markdown:
        pictures = []
        for name, (out, _) in runs.items():
            last = list_grids(out / "images", fixed=True)[-1][1]
            target = args.markdown.parent / f"quality_{name}.png"
            shutil.copy(last, target)
            pictures.append(f"| {name} | ![{name}]({target.name}) |")
        args.markdown.write_text(
            "# Quality: the recipe and its options, measured\n\n"
            f"Made by `python bench/quality.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`.\n\n"
            f"{setting}.\n\n{table}\n\nLast fixed-noise grid of each run:\n\n| variant | grid |\n|---|---|\n"
            + "\n".join(pictures) + "\n"
        )


if __name__ == "__main__":
    main()
