"""Images/s of the recipe's loop, the project's default step and its faster engines,
in one process, on the same images, architecture and batch size, after warm-up.

    python bench/throughput.py                                  # 64x64x3, batch 64, random PNGs
    python bench/throughput.py --data anime/ --steps 10 --warmup 2 --rounds 2
    KERAS_BACKEND=jax python bench/throughput.py --batch-size 256 --mixed-precision mixed_bfloat16 --steps 200

Engines (--engines, a subset; --rounds N makes them take turns, for a shared machine):
  recipe   the baseline: the tutorial's loop (bench/recipe_loop.py), PIL decoding per step,
           predict and three train_on_batch;
  default  what train.py runs: build_dcgan + compiled_train_step(jit_compile=--xla, off
           unless given, as in train.py), fed by gan.data.pipeline's tf.data pipeline over the
           images decoded once into memory;
  xla      the same step with jit_compile=True.
Precision: with --mixed-precision auto (the default) each engine computes as it would for
a user: the recipe's loop in float32 (the tutorial has no mixed precision), the step
engines in what train.py's `--mixed-precision auto` picks for them on this machine
(gan.training.precision); a policy named explicitly applies to every engine, for a same-precision
comparison.
On the JAX backend the step engines are whatever compiled_train_step returns there, fed
from one array of all decoded images held on the device (tf.data needs TensorFlow). An
engine that fails to build or run (a TensorFlow-only path on JAX, a dtype policy it does
not support) is skipped with its reason. Each step's loss is read back, as the trainer
does, so a step is timed to its end. Where the device's peak is not known from a data
sheet (a CPU), the peak is measured: the best rate of a large matrix product in that
dtype.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data_source import add_data_flags, image_folder  # noqa: E402
from bench.machine import start_backend  # noqa: E402
from gan import cli  # noqa: E402
from gan.settings.choices import PRECISIONS  # noqa: E402
from gan.training.precision import dtype_policy, resolve  # noqa: E402

ENGINES = ("recipe", "default", "xla")
GENERATED_IMAGES = 512


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    add_data_flags(parser, GENERATED_IMAGES)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per engine [10]")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per engine before, for tracing and compiling [2]")
    parser.add_argument("--rounds", type=int, default=1,
                        help="turns the timed steps are split into, the engines alternating, for a machine whose load varies [1]")
    parser.add_argument("--mixed-precision", default="auto", choices=PRECISIONS, metavar="POLICY",
                        help="auto (each engine as a user gets it), or off, mixed_bfloat16 or mixed_float16 for every engine [auto]")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                        help="jit_compile of the default engine, as train.py --xla [train.py's default]")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"a comma-separated subset of {','.join(ENGINES)} [all]")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak TFLOP/s at the step's dtype [H100 SXM, H200: data sheet; else measured]")
    parser.add_argument("--seed", type=int, default=0, help="[0]")
    args = parser.parse_args(argv)
    chosen = {name.strip() for name in args.engines.split(",") if name.strip()}
    if not chosen or not chosen <= set(ENGINES):
        parser.error(f"--engines: a comma-separated subset of {','.join(ENGINES)}; received {args.engines!r}")
    args.engines = [name for name in ENGINES if name in chosen]
    for name in ("steps", "batch_size", "rounds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer; received {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be zero or a positive integer; received {args.warmup}")
    return args


def round_sizes(steps: int, rounds: int) -> list[int]:
    """`steps` split into `rounds` nearly equal parts, none empty."""
    rounds = min(rounds, steps)
    return [steps // rounds + (index < steps % rounds) for index in range(rounds)]


def time_engines(builders: dict[str, Callable[[], Callable]], steps: int, warmup: int, rounds: int) -> dict[str, float | str]:
    """Seconds per step of each engine, or why it was skipped.

    All engines are built and warmed up first; then the timed steps run in `rounds`
    turns, each engine taking its share in every turn, so that a change in what else
    loads the machine falls on all of them alike.
    """
    results, ready = {}, {}
    for name, build in builders.items():
        try:
            step = build()
            for _ in range(warmup):
                step()
            ready[name], results[name] = step, 0.0
        except Exception as error:  # a path this backend or dtype policy cannot run
            results[name] = first_line(error)
    for count in round_sizes(steps, rounds):
        for name, step in list(ready.items()):
            start = time.perf_counter()
            try:
                for _ in range(count):
                    step()
            except Exception as error:
                results[name] = first_line(error)
                del ready[name]
                continue
            results[name] += time.perf_counter() - start
    return {name: result / steps if name in ready else result for name, result in results.items()}


class DeviceBatches:
    """Random batches gathered on the device from all images held there, scaled once:
    the feed where tf.data is not available (JAX without TensorFlow)."""

    def __init__(self, images: np.ndarray, batch_size: int, seed: int):
        from keras import ops

        self.take = ops.take
        self.pixels = ops.cast(ops.convert_to_tensor(images), "float32") / 127.5 - 1.0
        self.count, self.batch_size = len(images), batch_size
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        return self.take(self.pixels, self.rng.integers(0, self.count, self.batch_size), axis=0)


def on_tensorflow() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def feed_description() -> str:
    if on_tensorflow():
        return "gan.data.pipeline's tf.data pipeline over the images decoded once into memory"
    return "one array of all decoded images held on the device, random batches gathered there (no tf.data off TensorFlow)"


def batch_feed(images: np.ndarray, batch_size: int, seed: int) -> Iterator:
    """The step engines' batches, as feed_description() says."""
    if on_tensorflow():
        from gan.data.pipeline import training_batches

        return iter(training_batches(images, batch_size, seed))
    return DeviceBatches(images, batch_size, seed)


def step_engine(args: argparse.Namespace, folder: Path, images: np.ndarray, jit_compile: bool,
                precision: str) -> Callable[[], float]:
    """The project's compiled step, one call per batch; returns the step's g_loss."""
    from gan.settings.config import TrainConfig
    from gan.training.builders import build_dcgan

    config = TrainConfig(data=str(folder), image_size=args.image_size, channels=args.channels,
                         batch_size=args.batch_size, seed=args.seed)
    with dtype_policy(precision):
        train_step = build_dcgan(config).compiled_train_step(jit_compile=jit_compile)
    batches = batch_feed(images, args.batch_size, args.seed)
    return lambda: float(train_step(next(batches))["g_loss"])


def recipe_engine(args: argparse.Namespace, folder: Path, precision: str) -> Callable[[], dict]:
    from bench.recipe_loop import RecipeLoop

    with dtype_policy(precision):
        return RecipeLoop(folder, args.image_size, args.channels, args.batch_size, seed=args.seed).step


def engine_precisions(requested: str, default_xla: bool) -> dict[str, str]:
    """The concrete dtype policy of each engine (see the module's docstring)."""
    if requested != "auto":
        return dict.fromkeys(ENGINES, requested)
    return {"recipe": "off", "default": resolve("auto", default_xla), "xla": resolve("auto", True)}


def compute_dtype(precision: str) -> str:
    return "float32" if precision == "off" else precision.removeprefix("mixed_")


def first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"


def engine_peaks(args: argparse.Namespace, machine: str, dtypes: set[str]) -> dict[str, tuple[float, str]]:
    """Each compute dtype's peak TFLOP/s and where the figure comes from."""
    from bench.flops import measured_matmul_tflops, peak_tflops

    peaks = {}
    for dtype in sorted(dtypes):
        if args.peak_tflops:
            peaks[dtype] = (args.peak_tflops, "--peak-tflops")
        elif sheet := peak_tflops(machine, dtype):
            peaks[dtype] = (sheet, "the device data sheet, dense")
        else:
            peaks[dtype] = (measured_matmul_tflops(dtype), "measured: the best 2048x2048 matrix product")
    return peaks


def main() -> None:
    args = parse_args()
    machine = start_backend()
    from bench.flops import STEP_RULE, forward_flops, step_flops
    from gan.data.folders import load_image_folder
    from gan.settings.config import TrainConfig
    from gan.training.networks import get_disc_normal, get_gen_normal

    generator = get_gen_normal((1, 1, 100), args.image_size, args.channels)
    discriminator = get_disc_normal((args.image_size, args.image_size, args.channels))
    flops = step_flops(generator, discriminator)
    default_xla = TrainConfig(data="").xla if args.xla is None else args.xla
    precisions = engine_precisions(args.mixed_precision, default_xla)
    peaks = engine_peaks(args, machine, {compute_dtype(precisions[name]) for name in args.engines})
    with tempfile.TemporaryDirectory() as scratch:
        folder = image_folder(args, Path(scratch))
        images = load_image_folder(folder, args.image_size, args.channels).images
        builders = {
            "recipe": lambda: recipe_engine(args, folder, precisions["recipe"]),
            "default": lambda: step_engine(args, folder, images, default_xla, precisions["default"]),
            "xla": lambda: step_engine(args, folder, images, True, precisions["xla"]),
        }
        print(machine)
        print(f"data: {folder}, {len(images)} images at {args.image_size}x{args.image_size}x{args.channels}; "
              f"batch {args.batch_size}; --mixed-precision {args.mixed_precision}; "
              f"{args.warmup} warm-up + {args.steps} timed steps per engine, in {min(args.rounds, args.steps)} round(s)")
        print(f"feeds: recipe: PIL decoding of each batch's files; default (jit_compile={default_xla}), xla: {feed_description()}")
        print(f"FLOPs: G forward {forward_flops(generator) / 1e9:.3f} GFLOP/image, D forward "
              f"{forward_flops(discriminator) / 1e9:.3f}; step {flops / 1e9:.3f} GFLOP/image. Rule: {STEP_RULE}")
        for dtype, (peak, source) in peaks.items():
            print(f"peak at {dtype}: {peak:.3f} TFLOP/s ({source})")
        print(f"{'engine':<8} {'precision':<15} {'img/s':>9} {'s/step':>8} {'x recipe':>8} {'TFLOP/s':>8} {'% of peak':>9}")
        results = time_engines({name: builders[name] for name in args.engines}, args.steps, args.warmup, args.rounds)
        baseline = results.get("recipe")
        for name, seconds in results.items():
            if isinstance(seconds, str):
                print(f"{name:<8} skipped: {seconds}")
                continue
            ratio = f"{baseline / seconds:8.2f}" if isinstance(baseline, float) else f"{'-':>8}"
            achieved = args.batch_size / seconds * flops / 1e12
            peak = peaks[compute_dtype(precisions[name])][0]
            print(f"{name:<8} {precisions[name]:<15} {args.batch_size / seconds:9.1f} {seconds:8.4f} {ratio} "
                  f"{achieved:8.3f} {100 * achieved / peak:8.1f}%")


if __name__ == "__main__":
    sys.exit(cli.run(main))
