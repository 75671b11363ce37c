"""Latency of the web page's GET /api/faces?n=16, measured through Flask's test client.

    python bench/serve_latency.py                          # the recipe's 64x64x3 generator, untrained
    python bench/serve_latency.py --model outputs/anime-1  # a trained one (a .keras file or a run)

Untrained weights cost the same time as trained ones: the work is the same. Each request
uses a new seed, so nothing is cached; the figures are after warm-up (the first call
traces the graph) and cover the whole response: noise, generator, upscaling, PNG
encoding and JSON (or the grid PNG).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from step_speed import cpu_name  # noqa: E402  (bench/ is the script's folder)

from gan.runtime import set_up_tensorflow  # noqa: E402


def timed_requests(client, query: str, count: int, warmup: int) -> list[float]:
    """Seconds per request for `count` requests after `warmup`, a new seed each."""
    times = []
    for seed in range(warmup + count):
        start = time.perf_counter()
        response = client.get(f"{query}&seed={seed}")
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.get_json()
        if seed >= warmup:
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="generator .keras file or run folder [the recipe's 64x64x3, untrained]")
    parser.add_argument("-n", "--faces", type=int, default=16, help="faces per request [16]")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per format [50]")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    device = set_up_tensorflow()
    import tensorflow as tf

    from gan.web.app import create_app

    if args.model:
        from gan.pictures.latent import load_generator
        from gan.runs.folder import generator_source, model_step

        model_file = generator_source(args.model)
        generator, name, step = load_generator(model_file), model_file.name, model_step(model_file)
    else:
        from gan.training.networks import get_gen_normal

        generator, name, step = get_gen_normal((1, 1, 100), 64, 3), "recipe 64x64x3 (untrained)", None
    client = create_app(generator, name, step).test_client()
    size = generator.output_shape[1:]
    print(f"{name}: {'x'.join(map(str, size))} faces; {cpu_name()}, {device}, TensorFlow {tf.__version__}")
    for output in ("json", "png"):
        times = timed_requests(client, f"/api/faces?n={args.faces}&format={output}", args.requests, args.warmup)
        quantiles = statistics.quantiles(times, n=10)
        print(
            f"GET /api/faces?n={args.faces}&format={output}: median {statistics.median(times) * 1000:.0f} ms, "
            f"90th percentile {quantiles[-1] * 1000:.0f} ms, min {min(times) * 1000:.0f} ms ({args.requests} requests)"
        )


if __name__ == "__main__":
    main()
