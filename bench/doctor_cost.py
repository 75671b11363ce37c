"""What the live health checks cost, as a share of training time.

    python bench/doctor_cost.py                      # 32x32x1 batch 32 (the digits) and 64x64x3 batch 64
    python bench/doctor_cost.py --sizes 128x3:64                 # SIZExCHANNELS:BATCH

For each configuration it times the project's training step (after a warm-up) and one
health check: the host copy of the step's samples, the signals against the real
reference and the rules, as train.py does every --health-every steps (default: every
--sample-every, 100). The share is check time / (100 x step time), an upper bound: on a
GPU the check runs on the host while the device runs the next step. The once-per-run
baseline (the untrained generator's images) is timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_name, load_average  # noqa: E402
from gan.runtime import set_up_tensorflow  # noqa: E402

CHECK_EVERY = 100  # train.py's default --sample-every, which --health-every follows


def measure(size: int, channels: int, batch_size: int, steps: int, checks: int) -> dict[str, float]:
    """Seconds per training step, per health check, and for the baseline, in this configuration."""
    import keras

    from gan.data.pipeline import training_batches
    from gan.evaluation.health_rules import HealthState, judge
    from gan.evaluation.health_signals import RealReference
    from gan.settings.config import TrainConfig
    from gan.training.builders import build_dcgan
    from gan.training.health import untrained_signals

    config = TrainConfig(data="", image_size=size, channels=channels, batch_size=batch_size, seed=0)
    model = build_dcgan(config)
    images = np.random.default_rng(0).integers(0, 256, (4096, size, size, channels), dtype=np.uint8)
    reference = RealReference(images[:256].astype(np.float32) / 127.5 - 1)
    noise = np.random.default_rng(1).standard_normal((batch_size, *model.noise_shape), dtype=np.float32)
    started = time.perf_counter()
    state = HealthState(baseline=untrained_signals(model.generator, noise, reference))
    baseline = time.perf_counter() - started
    batches = iter(training_batches(images, batch_size, seed=0))
    step = model.compiled_train_step(jit_compile=False)
    for _ in range(5):
        figures = step(next(batches))
        float(figures["g_loss"])
    started = time.perf_counter()
    for _ in range(steps):
        figures = step(next(batches))
        float(figures["g_loss"])
    step_seconds = (time.perf_counter() - started) / steps
    durations = []
    for index in range(checks):
        started = time.perf_counter()
        samples = keras.ops.convert_to_numpy(figures["samples"]).astype(np.float32)
        signals = reference.signals(samples)
        signals.update({key: float(figures[key]) for key in ("d_real_loss", "d_fake_loss", "g_loss", "d_real", "d_fake")})
        judge(signals, state, index * CHECK_EVERY, scores_are_probabilities=True)
        durations.append(time.perf_counter() - started)
    return {"step": step_seconds, "check": statistics.median(durations), "baseline": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["32x1:32", "64x3:64"], help="SIZExCHANNELS:BATCH each [32x1:32 64x3:64]")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per configuration [30]")
    parser.add_argument("--checks", type=int, default=20, help="timed checks per configuration (the median counts) [20]")
    args = parser.parse_args()
    device = set_up_tensorflow()
    print(f"machine: {cpu_name()}, {device}, load {load_average()}")
    print("| images | batch | step (ms) | check (ms) | share at a check every 100 steps | baseline, once (ms) |")
    print("|---|---|---|---|---|---|")
    for spec in args.sizes:
        shape, batch = spec.split(":")
        size, channels = (int(part) for part in shape.split("x"))
        times = measure(size, channels, int(batch), args.steps, args.checks)
        share = times["check"] / (CHECK_EVERY * times["step"])
        print(f"| {size}x{size}x{channels} | {batch} | {times['step'] * 1e3:.1f} | {times['check'] * 1e3:.2f} | "
              f"{share:.3%} | {times['baseline'] * 1e3:.0f} |")


if __name__ == "__main__":
    main()
