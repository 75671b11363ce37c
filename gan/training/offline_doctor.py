"""The doctor for a run that has no health.jsonl (made before the live checks, or by the
plain recipe): the same rules, fed from the saved sample grids and the text log.

Each sample grid is cut back into its images and judged against the training images,
with the losses of the log lines since the grid before; the baseline is a freshly built,
untrained generator of the run's networks. The log holds no discriminator scores, so
this replay cannot tell d_wins from quality_regressing and names the latter.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from PIL import Image

from gan.data.folders import open_image_folder
from gan.errors import UserError
from gan.evaluation.health_rules import LOSS_KEYS, HealthState, judge
from gan.evaluation.health_signals import RealReference
from gan.pictures.grids import GRID_GAP, grid_columns
from gan.runs.folder import SAMPLE_SUFFIX, list_grids
from gan.runs.text_log import LossHistory
from gan.settings.config import TrainConfig
from gan.training.builders import build_networks
from gan.training.losses import adversarial_loss
from gan.training.health import WINDOW_KEYS, real_reference, untrained_signals

BASELINE_NOISE_SEED = 0


def cut_grid(path: Path, size: int, channels: int, count: int) -> np.ndarray:
    """A grid written by gan.pictures.grids.make_grid back into its images, in [-1, 1]."""
    try:
        with Image.open(path) as picture:
            pixels = np.asarray(picture.convert("L" if channels == 1 else "RGB"))
    except OSError as error:
        raise UserError(f"{path} is not a readable PNG ({error})") from None
    pixels = pixels.reshape(*pixels.shape[:2], channels)
    cols = grid_columns(count)
    rows = -(-count // cols)
    if pixels.shape[:2] != (rows * size + (rows - 1) * GRID_GAP, cols * size + (cols - 1) * GRID_GAP):
        raise UserError(f"{path} is not a grid of {count} {size}x{size} images as this project writes them")
    tiles = [pixels[r * (size + GRID_GAP): r * (size + GRID_GAP) + size, c * (size + GRID_GAP): c * (size + GRID_GAP) + size]
             for r in range(rows) for c in range(cols)][:count]
    return np.stack(tiles).astype(np.float32) / 127.5 - 1.0


def grid_count(config: TrainConfig) -> int:
    """How many images a sample grid shows: the step's first fakes."""
    return min(config.grid_images, config.batch_size)


def untrained_baseline(config: TrainConfig, reference: RealReference) -> dict[str, float]:
    """The signals of a freshly built, untrained generator of the run's networks, drawing
    as many images as a sample grid shows: the baseline when the run's own is unknown."""
    keras.utils.set_random_seed(config.seed or 0)
    generator = build_networks(config)[0]
    count = grid_count(config)
    noise = np.random.default_rng(BASELINE_NOISE_SEED).standard_normal((max(2, count), *generator.input_shape[1:]))
    return untrained_signals(generator, noise.astype(np.float32), reference)


def replay(config: TrainConfig, images: Path, history: LossHistory) -> list[dict]:
    """The health records the live checks would have written, from the grids and the log."""
    grids = list_grids(images) if images.is_dir() else []
    if not grids:
        raise UserError(f"{images} holds no sample grids (*{SAMPLE_SUFFIX}) to diagnose from")
    reference = real_reference(open_image_folder(config.data, config.image_size, config.channels), config)
    count = grid_count(config)
    state = HealthState(baseline=untrained_baseline(config, reference))
    probabilities = adversarial_loss(config.loss).discriminator_outputs_probabilities
    records, previous = [], -1
    for step, path in grids:
        signals = reference.signals(cut_grid(path, config.image_size, config.channels, count))
        window = (history.steps > previous) & (history.steps <= step)
        for key in WINDOW_KEYS:
            known = key in LOSS_KEYS and window.any()  # the text log holds no discriminator scores
            signals[key] = float(getattr(history, key)[window].mean()) if known else float("nan")
        records.append(judge(signals, state, step, probabilities).record(step))
        previous = step
    return records
