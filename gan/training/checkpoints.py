"""A training run's checkpoints as the loop sees them: what a checkpoint holds beyond
the networks (step, noise state, best FID), saving one, and restoring the newest that
loads. The files and their names are gan.runs.folder's."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import keras
import numpy as np

from gan.errors import UserError
from gan.runs.folder import (
    Checkpoint,
    RunDir,
    list_checkpoints,
    prune_checkpoints,
    save_checkpoint,
)
from gan.settings.config import TrainConfig
from gan.training.builders import join_networks
from gan.training.step import DCGAN


def save(run: RunDir, step: int, model: DCGAN, best_fid: float, keep: int, health: dict, spare: int | None) -> None:
    """Checkpoint `model` after `step` steps with the doctor's state `health`, then drop
    all but the newest `keep` and the checkpoint of step `spare`."""
    state = {
        "step": step,
        "seed_generator_state": keras.ops.convert_to_numpy(model.seed_generator.state.value).tolist(),
        "best_fid": best_fid if math.isfinite(best_fid) else None,
        "health": health,
    }
    save_checkpoint(run, step, _networks(model), state)
    prune_checkpoints(run, keep, spare)


def _networks(model: DCGAN) -> dict[str, keras.Model]:
    """The networks a checkpoint holds, by save name."""
    networks = {"generator": model.generator, "discriminator": model.discriminator}
    if model.sampler is not model.generator:
        networks["ema_generator"] = model.sampler
    return networks


def restore_into(model: DCGAN, checkpoint: Checkpoint) -> dict:
    """Put a checkpoint's weights, optimizer states and noise state into the running
    `model` in place (its compiled step stays valid); return the checkpoint's state."""
    for name, network in _networks(model).items():
        saved = keras.saving.load_model(getattr(checkpoint, name), safe_mode=True)
        network.set_weights(saved.get_weights())
        if network.optimizer is not None and saved.optimizer is not None:
            for variable, value in zip(network.optimizer.variables, saved.optimizer.variables):
                variable.assign(value)
    state = checkpoint.read_state()
    model.seed_generator.state.assign(np.asarray(state["seed_generator_state"], dtype="int64"))
    return state


def restore_newest(config: TrainConfig, run: RunDir) -> tuple[DCGAN, Checkpoint, dict]:
    """The networks, optimizer states and noise state of the newest checkpoint that loads.

    A damaged newest checkpoint (say, a disk error while it was written) is reported and
    the one before it is used.
    """
    for checkpoint in reversed(list_checkpoints(run)):
        try:
            generator = keras.saving.load_model(checkpoint.generator, safe_mode=True)
            discriminator = keras.saving.load_model(checkpoint.discriminator, safe_mode=True)
            average = checkpoint.ema_generator and keras.saving.load_model(checkpoint.ema_generator, safe_mode=True)
            state = checkpoint.read_state()
        except Exception as error:  # a damaged file fails in many ways; the previous checkpoint may not
            print(f"warning: checkpoint {checkpoint.step} is unreadable ({str(error).splitlines()[0]}); "
                  "trying the one before", file=sys.stderr)
            continue
        model = join_networks(config, generator, discriminator)
        model.seed_generator.state.assign(np.asarray(state["seed_generator_state"], dtype="int64"))
        if config.ema:
            if not average:
                raise UserError(f"checkpoint {checkpoint.step} has no ema_generator save to resume --ema from")
            model.sampler.set_weights(average.get_weights())
        return model, checkpoint, state
    raise UserError(f"none of the checkpoints in {run.models} could be read")


def check_resumable(config: TrainConfig, folder: Path) -> None:
    """Fail before the data are loaded if there is nothing to resume."""
    checkpoints = list_checkpoints(RunDir(folder, config.steps))
    if not checkpoints:
        raise UserError(f"{folder / 'models'} holds no complete checkpoint to resume from (a run stopped "
                        "before its first save keeps nothing to go on from: train again with a new --out)")
    if checkpoints[-1].step >= config.steps:
        raise UserError(f"{folder} already ran {checkpoints[-1].step} steps; pass --steps with a larger total to go on")
