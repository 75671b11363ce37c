"""Start-up time and peak memory of serve.py on a Keras generator and on its ONNX export.

    python bench/serve_startup.py                          # the recipe's 64x64x3 generator, untrained
    python bench/serve_startup.py --model outputs/anime-1  # a trained one (a .keras file or a run)

The generator is exported with `export.py --format onnx`; then serve.py is started on the
.keras file and on the generator.onnx in turn (ABBA order, so that a change in the
machine's load falls on both alike), each time in a fresh process. Start-up is from the
process's start to the first answered `GET /api/faces?n=16&seed=0`, so it includes the
imports, loading the model, the first call and the first PNGs; peak memory is the
process's ru_maxrss over that time. Nothing but the measured servers runs TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_name  # noqa: E402  (the project's root is put on the path above)

QUERY = "/api/faces?n=16&seed=0"
RECIPE = "from gan.training.networks import get_gen_normal; import sys; get_gen_normal((1, 1, 100), 64, 3).save(sys.argv[1])"


def prepare(model: Path | None, folder: Path) -> tuple[Path, Path]:
    """(the .keras file or run to serve, the generator.onnx exported from it), each in a child process."""
    if model is None:
        model = folder / "recipe_64x64x3.keras"
        subprocess.run([sys.executable, "-c", RECIPE, str(model)], cwd=ROOT, check=True, capture_output=True)
    export = folder / "export"
    subprocess.run([sys.executable, str(ROOT / "export.py"), str(model), "--format", "onnx", "-o", str(export)],
                   cwd=ROOT, check=True, capture_output=True)
    return model, export / "generator.onnx"


def first_faces(url: str, deadline: float) -> None:
    """Wait for the first 200 answer to QUERY."""
    while True:
        try:
            with urllib.request.urlopen(url + QUERY, timeout=120) as response:
                response.read()
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def measure(source: Path) -> tuple[float, float]:
    """(seconds from process start to the first faces, peak resident MiB) of one serve.py."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), str(source), "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while (line := process.stdout.readline()) and not (match := re.match(r"Serving on (http://\S+)", line)):
            continue
        if not line:
            raise SystemExit(f"serve.py {source} ended without serving")
        first_faces(match.group(1), time.monotonic() + 300)
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
    _, _, usage = os.wait4(process.pid, 0)
    process.stdout.close()
    process.returncode = 0  # reaped by os.wait4, the one wait that gives this child's own rusage
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="generator .keras file or run folder [the recipe's 64x64x3, untrained]")
    parser.add_argument("--repeats", type=int, default=3, help="starts of each path [3]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keras_source, onnx_source = prepare(args.model, Path(folder))
        sources = {"Keras (.keras, TensorFlow)": keras_source, "ONNX (generator.onnx, onnxruntime)": onnx_source}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in sources}
        for repeat in range(args.repeats):
            for name in sources if repeat % 2 == 0 else reversed(sources):
                results[name].append(measure(sources[name]))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{args.model or 'recipe 64x64x3 (untrained)'}; {cpu_name()}; load average {load}; {time.strftime('%Y-%m-%d')}")
    print("| serve.py on | start to first faces (median, range) | peak memory (median) |")
    print("| --- | --- | --- |")
    for name, runs in results.items():
        seconds, memory = [run[0] for run in runs], [run[1] for run in runs]
        print(f"| {name} | {statistics.median(seconds):.2f} s ({min(seconds):.2f} to {max(seconds):.2f}) | "
              f"{statistics.median(memory):.0f} MiB |")


if __name__ == "__main__":
    main()
