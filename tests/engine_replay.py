"""Replays training steps with given weights, images, noise and labels on whichever Keras
backend this process runs, so the engines can be compared on equal inputs.

Backends draw different random numbers from the same seed, so the noise and labels are
given: `sample_noise` and `noisy_labels` hand out the recorded arrays in call order.
Run as a script (`python tests/engine_replay.py FOLDER`) it reads FOLDER/inputs.npz and
the two weight files, and writes FOLDER/<backend>.npz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np

from gan.training.networks import get_disc_normal, get_gen_normal
from gan.training.step import DCGAN

SIZE, LATENT, BATCH, STEPS = 16, 8, 6, 2


def tiny_networks() -> tuple[keras.Model, keras.Model]:
    return get_gen_normal((1, 1, LATENT), SIZE, 1), get_disc_normal((SIZE, SIZE, 1))


def make_inputs(folder: Path, seed: int = 0) -> None:
    """Random weights, images, two noise batches and labels, written to `folder`."""
    keras.utils.set_random_seed(seed)
    generator, discriminator = tiny_networks()
    generator.save_weights(folder / "generator.weights.h5")
    discriminator.save_weights(folder / "discriminator.weights.h5")
    rng = np.random.default_rng(seed)
    np.savez(
        folder / "inputs.npz",
        images=rng.uniform(-1, 1, (STEPS, BATCH, SIZE, SIZE, 1)).astype(np.float32),
        noise=rng.standard_normal((2, BATCH, 1, 1, LATENT)).astype(np.float32),
        real_labels=rng.uniform(0.8, 1.0, (BATCH, 1)).astype(np.float32),
        fake_labels=rng.uniform(0.0, 0.2, (BATCH, 1)).astype(np.float32),
    )


def replay(folder: Path, jit_compile: bool = False, schedule: str = "recipe") -> dict[str, np.ndarray]:
    """Losses of every step and the weights after the last (the moving average's too), as arrays."""
    generator, discriminator = tiny_networks()
    generator.load_weights(folder / "generator.weights.h5")
    discriminator.load_weights(folder / "discriminator.weights.h5")
    inputs = np.load(folder / "inputs.npz")
    model = DCGAN(generator, discriminator, schedule=schedule, sample_count=2, ema_decay=0.9)
    generator.optimizer.iterations.assign(1000)  # past the average's ramp: it moves by 0.9
    noise = iter(inputs["noise"])
    model.sample_noise = lambda batch_size: next(noise)  # called at trace time, in step order
    model.noisy_labels = lambda batch_size: (inputs["real_labels"], inputs["fake_labels"])
    step = model.compiled_train_step(jit_compile=jit_compile)
    losses = [
        [float(figures[key]) for key in ("d_real_loss", "d_fake_loss", "g_loss")]
        for figures in (step(images) for images in inputs["images"])
    ]
    # Keyed by role and position: layer names carry a per-process counter.
    weights = {
        f"weight:{role}:{index}": keras.ops.convert_to_numpy(variable.value)
        for role, network in (("generator", generator), ("discriminator", discriminator), ("average", model.sampler))
        for index, variable in enumerate(network.weights)
        if id(variable) not in _biases_before_batch_norm(network)
    }
    return {"losses": np.array(losses), **weights}


def _biases_before_batch_norm(network: keras.Model) -> set[int]:
    """Biases that batch norm subtracts right away, with the moving means that track them.
    The bias's gradient is zero up to rounding, and Adam, which divides by the gradient's
    size, turns that rounding into steps of any sign; the moving mean follows the bias.
    They cannot agree across engines, and together they cancel out of what the network
    computes."""
    layers = network.layers
    return {
        id(variable)
        for layer, following in zip(layers, layers[1:])
        if getattr(layer, "bias", None) is not None and isinstance(following, keras.layers.BatchNormalization)
        for variable in (layer.bias, following.moving_mean)
    }


if __name__ == "__main__":
    target = Path(sys.argv[1])
    np.savez(target / f"{keras.backend.backend()}.npz", **replay(target))
