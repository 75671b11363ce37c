"""Steps/s and images/s of the project's training step, fed by its tf.data pipeline.

    python bench/step_speed.py                       # 32x32x1 and 64x64x3, batch 64
    python bench/step_speed.py --sizes 64x3 --batch-size 128 --steps 50
    python bench/step_speed.py --sizes 32x3 --flags "--loss hinge --spectral-norm --ema 0.999"

Random uint8 images stand in for a data set (decoding happens once, before training,
so it does not enter the step rate). Each configuration is timed after a warm-up that
includes tracing and compilation; both the plain graph and XLA are measured, each in the
precision train.py's --mixed-precision gives it (auto by default: gan.training.precision).
`--flags` takes train.py's flags (a preset, its options) and times the step they make.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_name  # noqa: E402
from gan.runtime import set_up_tensorflow  # noqa: E402
from gan.settings.choices import PRECISIONS  # noqa: E402
from gan.settings.config import TrainConfig  # noqa: E402
from gan.training.precision import dtype_policy, resolve  # noqa: E402
from train import config_from_args  # noqa: E402


def measure(config: TrainConfig, steps: int, warmup: int, xla: bool, precision: str) -> float:
    """Seconds per step of the run `config` sets up, averaged over `steps` after `warmup` steps."""
    from gan.data.pipeline import training_batches
    from gan.training.builders import build_dcgan

    with dtype_policy(precision):
        model = build_dcgan(config)
    shape = (4096, config.image_size, config.image_size, config.channels)
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    batches = iter(training_batches(images, config.batch_size, seed=0))
    step = model.compiled_train_step(jit_compile=xla)
    for _ in range(warmup):
        float(step(next(batches))["g_loss"])
    start = time.perf_counter()
    for _ in range(steps):
        float(step(next(batches))["g_loss"])  # reading a loss waits for the step, as the trainer does
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["32x1", "64x3"], help="SIZExCHANNELS each [32x1 64x3]")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--mixed-precision", choices=PRECISIONS, default="auto", help="as train.py's [auto]")
    parser.add_argument("--flags", default="", help="train.py flags of the step to time, e.g. \"--preset dcgan\" [the recipe]")
    args = parser.parse_args()
    options = config_from_args(["--data", "unused", *shlex.split(args.flags)])[0]
    device = set_up_tensorflow()
    import tensorflow as tf

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {device}; TF {tf.__version__}; flags: {args.flags or '(the recipe)'}")
    print(f"{'size':>8} {'batch':>5} {'engine':>11} {'precision':>14} {'s/step':>7} {'steps/s':>7} {'img/s':>7}")
    for spec in args.sizes:
        size, channels = (int(part) for part in spec.split("x"))
        for xla in (False, True):
            precision = resolve(args.mixed_precision, xla)
            config = dataclasses.replace(options, image_size=size, channels=channels, batch_size=args.batch_size, seed=0)
            config.validate()
            seconds = measure(config, args.steps, args.warmup, xla, precision)
            engine = "graph + XLA" if xla else "graph"
            print(f"{spec:>8} {args.batch_size:>5} {engine:>11} {precision:>14} {seconds:7.3f} {1 / seconds:7.2f} "
                  f"{args.batch_size / seconds:7.0f}")


if __name__ == "__main__":
    main()
