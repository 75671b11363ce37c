"""Size, parity, start-up time and FID cost of each export of a generator.

    python bench/export_quality.py outputs/digits-1 --real data/digits [-n 2048] [--inception-weights FILE]
    python bench/export_quality.py --untrained            # the recipe's 64x64x3 generator, no FID

Exports the generator (the run's newest, as export.py picks it) as a float32 SavedModel,
ONNX and TFLite file, and as float16 and int8 TFLite files, into a temporary folder,
each through export.py's own path and parity check. Per file it prints the size, the
largest and mean difference from the float32 Keras generator and, in a fresh process,
the seconds to import the runtime (after numpy), to open the file and to make 64 images
(first and second call), and the process's peak memory. With --real it then scores the
Keras generator (as evaluate.py does) and each TFLite file with the project's FID on the
same noise: the TFLite files go through a small adapter with the two things the
evaluator calls, `input_shape` and `generator(noise)`. --untrained builds the recipe's
64x64x3 generator (under mixed_bfloat16) instead: untrained weights cost the same bytes
and time as trained ones, but their FID means nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import start_backend  # noqa: E402
from gan.settings.config import FID_WEIGHTS  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPORTS = [("savedmodel", None), ("onnx", None), ("tflite", None), ("tflite", "float16"), ("tflite", "int8")]
RUNTIME_MODULES = {"tensorflow": "tensorflow", "onnxruntime": "onnxruntime", "ai-edge-litert": "ai_edge_litert.interpreter"}
# Run in a fresh interpreter: what a program that only serves the export pays at start-up.
START_UP = """
import importlib, json, sys, time
from gan.export import runners
from gan.pictures.latent import seed_noise
begun = time.perf_counter()
importlib.import_module(sys.argv[2])
imported = time.perf_counter()
runner = getattr(runners, sys.argv[1])(sys.argv[3])
opened = time.perf_counter()
noise = seed_noise(0, 64, runner.noise_shape)
runner(noise)
first = time.perf_counter()
runner(noise)
second = time.perf_counter()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
print(json.dumps({"import": imported - begun, "open": opened - imported, "first_64": first - opened, "next_64": second - first, "peak_mb": peak}))
"""


class RunnerAsGenerator:
    """An export's runner with what the evaluator calls on a Keras generator."""

    def __init__(self, runner):
        self.runner = runner
        self.input_shape = (None, *runner.noise_shape)

    def __call__(self, noise, training: bool = False):
        return self.runner(noise)


def untrained_recipe(folder: Path) -> Path:
    """The recipe's 64x64x3 generator built under mixed_bfloat16, as the default CPU run trains it."""
    import keras

    from gan.training.networks import get_gen_normal

    keras.config.set_dtype_policy("mixed_bfloat16")
    generator = get_gen_normal((1, 1, 100), 64, 3)
    keras.config.set_dtype_policy("float32")
    path = folder / "recipe_untrained.keras"
    generator.save(path)
    return path


def start_up(runner_name: str, runtime: str, entry: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", START_UP, runner_name, RUNTIME_MODULES[runtime], str(entry)],
                            capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def export_all(model_file: Path, folder: Path) -> list[tuple[str, Path, dict]]:
    """(label, file the runtime opens, export.json entry) for every export in EXPORTS."""
    from gan.export.exporter import export_generator
    from gan.export.formats import FORMATS

    made = []
    for name, quantize in EXPORTS:
        label = name if quantize is None else f"{name} {quantize}"
        out = folder / label.replace(" ", "-")
        entry = export_generator(model_file, out, name, quantize)["formats"][name]
        made.append((label, out / FORMATS[name].entry, entry))
    return made


def print_exports(made: list[tuple[str, Path, dict]]) -> None:
    from gan.export.formats import FORMATS

    print("export            size      largest diff  mean diff  | fresh process: import  open   64 images (first, next)  peak memory")
    for label, entry_path, entry in made:
        runner = FORMATS[label.split()[0]].runner
        times = start_up(runner.__name__, entry["parity"]["runtime"], entry_path)
        check = entry["parity"]
        print(f"{label:16s} {entry['bytes'] / 1e6:6.2f} MB  {check['max_abs_diff']:12.1e}  {check['mean_abs_diff']:9.1e}  |"
              f" {times['import']:20.2f} s {times['open']:5.2f} s  {times['first_64']:.3f} s, {times['next_64']:.3f} s"
              f"  {times['peak_mb']:8.0f} MiB")


def print_fid(model_file: Path, made: list[tuple[str, Path, dict]], real: Path, count: int, weights: Path) -> None:
    from gan.evaluation.evaluator import Evaluator, format_metrics
    from gan.export.runners import TFLiteRunner
    from gan.pictures.latent import load_generator

    generator = load_generator(model_file)
    evaluator = Evaluator(weights, real, generator.output_shape[1], generator.output_shape[-1])  # as evaluate.py: grey against grey
    print(f"FID of {count} samples (seed 0) against {real}:")
    print(f"keras (as trained)  {format_metrics(evaluator.score_generator(generator, count))}")
    for label, entry_path, _ in made:
        if label.startswith("tflite"):
            scored = evaluator.score_generator(RunnerAsGenerator(TFLiteRunner(entry_path)), count)
            print(f"{label:19s} {format_metrics(scored)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="run folder, folder of runs or generator .keras file")
    parser.add_argument("--untrained", action="store_true", help="the recipe's 64x64x3 generator, untrained, instead of a run")
    parser.add_argument("--real", type=Path, help="real images for FID [no FID]")
    parser.add_argument("-n", "--count", type=int, default=2048, help="samples per FID [2048]")
    parser.add_argument("--inception-weights", type=Path, default=Path(FID_WEIGHTS))
    args = parser.parse_args()
    if (args.run is None) == (not args.untrained):
        parser.error("give a run or --untrained")

    machine = start_backend()
    from gan.runs.folder import generator_source

    with tempfile.TemporaryDirectory() as scratch:
        model_file = untrained_recipe(Path(scratch)) if args.untrained else generator_source(args.run)
        print(f"{model_file}; {machine}")
        made = export_all(model_file, Path(scratch))
        print_exports(made)
        if args.real is not None and not args.untrained:
            print_fid(model_file, made, args.real, args.count, args.inception_weights)


if __name__ == "__main__":
    main()
