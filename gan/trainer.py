"""train(config): the loop, and the cadence of its samples, saves and logs.

Read top to bottom: data in, networks built, then one compiled step per iteration with
the host doing only what must be done per step (one log line) or at an interval
(grids every `sample_every`, models and the fixed-noise grid every `save_every`).
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from gan import images
from gan.config import TrainConfig
from gan.data import load_image_folder, training_batches
from gan.gan import DCGAN
from gan.models import get_disc_normal, get_gen_normal
from gan.run_dir import RunDir, check_out_folder, claim_run_folder, save_model
from gan.training_log import SCALARS, TrainingLog

LOSSES = ("d_real_loss", "d_fake_loss", "g_loss")


def build_dcgan(config: TrainConfig) -> DCGAN:
    """The recipe's two networks at the configured size, joined for training."""
    generator = get_gen_normal(
        (1, 1, config.latent_dim), config.image_size, config.channels, config.init, config.lr_g
    )
    discriminator = get_disc_normal(
        (config.image_size, config.image_size, config.channels), config.init, config.lr_d
    )
    return DCGAN(
        generator,
        discriminator,
        label_noise=config.label_noise,
        seed=config.seed,
        sample_count=config.grid_images,
    )


class _IntervalMeans:
    """Mean losses and images/s since the last save, for the recipe's periodic printout."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self.sums, self.steps, self.start = dict.fromkeys(LOSSES, 0.0), 0, time.perf_counter()

    def add(self, scalars: dict[str, float]) -> None:
        for key in LOSSES:
            self.sums[key] += scalars[key]
        self.steps += 1

    def summary(self) -> str:
        means = " ".join(f"{key} {self.sums[key] / self.steps:.4f}" for key in LOSSES)
        rate = self.steps * self.batch_size / (time.perf_counter() - self.start)
        return f"mean over the last {self.steps} steps: {means} ({rate:.0f} img/s)"


def _save_grid(log: TrainingLog, tag: str, step: int, pixels: np.ndarray, path: Path) -> None:
    grid = images.make_grid(images.to_uint8(pixels))
    images.save_png(grid, path)
    log.image(tag, step, grid)


def train(config: TrainConfig, show_progress: bool = True) -> Path:
    """Train one run from scratch; return its folder. Raises UserError on bad input."""
    check_out_folder(config.out)
    image_set = load_image_folder(config.data, config.image_size, config.channels)
    print(f"Data: {len(image_set.images)} images from {config.data}")
    if image_set.skipped:
        print(f"warning: {image_set.skipped_summary()}", file=sys.stderr)

    if config.seed is None:
        config = dataclasses.replace(config, seed=random.SystemRandom().randrange(2**31))
    run = RunDir(claim_run_folder(config.out, config.data), config.steps)
    run.make_folders()
    config.save(run.config)
    print(f"Run folder: {run.root} (seed {config.seed})")

    keras.utils.set_random_seed(config.seed)
    model = build_dcgan(config)
    fixed_noise = np.random.default_rng(config.seed).standard_normal(
        (config.grid_images, *model.noise_shape), dtype=np.float32
    )
    np.save(run.fixed_noise, fixed_noise)
    train_step = model.compiled_train_step(jit_compile=config.xla)
    batches = iter(training_batches(image_set.images, config.batch_size, config.seed))

    def save_fixed_grid(step: int) -> None:
        pixels = model.generator(fixed_noise, training=False)
        _save_grid(log, "fixed_noise", step, keras.ops.convert_to_numpy(pixels), run.fixed_grid(step))

    interval = _IntervalMeans(config.batch_size)
    # A redrawn bar only makes sense on a terminal; in a log file the interval lines suffice.
    with TrainingLog(run.log, run.tensorboard) as log, tqdm(
        total=config.steps, unit="step", disable=not (show_progress and sys.stderr.isatty()), dynamic_ncols=True
    ) as bar:
        save_fixed_grid(0)
        for step in range(config.steps):
            figures = train_step(next(batches))
            scalars = {key: float(figures[key]) for key in SCALARS}
            log.step(step, scalars)
            interval.add(scalars)
            if step % config.sample_every == 0:
                _save_grid(log, "samples", step, figures["samples"].numpy(), run.sample_grid(step))

            done = step + 1
            if done % config.save_every == 0 or done == config.steps:
                save_fixed_grid(done)
                save_model(model.generator, run.model_file("generator", done))
                save_model(model.discriminator, run.model_file("discriminator", done))
                bar.write(f"step {done}/{config.steps}: {interval.summary()}")
                interval.reset()

            bar.update()
            rate = bar.format_dict["rate"]
            bar.set_postfix_str(
                f"D real {scalars['d_real_loss']:.3f} D fake {scalars['d_fake_loss']:.3f} "
                f"GAN {scalars['g_loss']:.3f} "
                + (f"{rate * config.batch_size:.0f} img/s" if rate else ""),
                refresh=False,
            )
    print(f"Done: {config.steps} steps. Grids in {run.images}, models in {run.models}")
    return run.root
