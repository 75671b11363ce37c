"""--lr-decay: the rates each step runs at, in a real loop."""

import dataclasses
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import PROJECT_ROOT, TINY_FLAGS, needs_jax, tiny_config

from gan.training import distribute, rollback
from gan.training.loop import run_loop
from gan.training.schedule import learning_rate_factor
from gan.training.session import open_session

LR_G, LR_D = 1e-3, 2e-3


def test_the_factor_is_one_until_the_last_steps_then_falls_linearly_short_of_zero():
    assert [learning_rate_factor(step, 10, 4) for step in range(10)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [learning_rate_factor(step, 3, 0) for step in range(3)] == [1, 1, 1]
    assert [learning_rate_factor(step, 2, 2) for step in range(2)] == [1, 0.5]


def _rates_of_each_step(data_folder, tmp_path, **settings) -> list[tuple[float, float]]:
    config = tiny_config(data_folder, tmp_path / "run", steps=6, save_every=3, sample_every=3, seed=0, lr_g=LR_G, lr_d=LR_D,
                         **settings)
    session = open_session(config, None, distribute.Distribution())
    step_function, rates = session.train_step, []

    def recorded_step(batch) -> dict:
        optimizers = session.model.generator.optimizer, session.model.discriminator.optimizer
        rates.append(tuple(float(optimizer.learning_rate) for optimizer in optimizers))
        return step_function(batch)

    run_loop(dataclasses.replace(session, train_step=recorded_step), show_progress=False)
    return rates


def test_each_step_runs_at_its_decayed_rates(data_folder, tmp_path):
    rates = _rates_of_each_step(data_folder, tmp_path, lr_decay=4)
    factors = [1, 1, 1, 0.75, 0.5, 0.25]
    assert rates == [pytest.approx((LR_G * f, LR_D * f)) for f in factors]


def test_without_decay_every_step_runs_at_the_configured_rates(data_folder, tmp_path):
    assert _rates_of_each_step(data_folder, tmp_path) == [pytest.approx((LR_G, LR_D))] * 6


@needs_jax
def test_the_jax_engine_trains_at_the_decayed_rates(data_folder, tmp_path):
    """Under JAX the step is one jax.jit taking every variable as an input: the rate
    assigned before a step must be the one it uses, and the one the checkpoint keeps."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")

    def generator_after_two_steps(name: str, *flags: str) -> keras.Model:
        out = tmp_path / name
        done = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "train.py"), "--data", str(data_folder), "--out", str(out), *TINY_FLAGS,
             "--steps", "2", "--seed", "0", "--lr-g", str(LR_G), *flags],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return keras.saving.load_model(out / "models" / "generator_2.keras")

    decayed, constant = generator_after_two_steps("decayed", "--lr-decay", "2"), generator_after_two_steps("constant")
    assert float(decayed.optimizer.learning_rate) == pytest.approx(LR_G / 2)
    assert float(constant.optimizer.learning_rate) == pytest.approx(LR_G)
    # The first steps are one step; the second ran at half the rate, so the weights part.
    assert not all(np.array_equal(a, b) for a, b in zip(decayed.get_weights(), constant.get_weights()))


def test_a_rollback_gives_both_optimizers_the_configured_rates_at_its_step(data_folder, tmp_path):
    """A rollback restores a checkpoint's optimizers, learning rates included; a checkpoint
    saved before an earlier rollback holds that rollback's old rates. Its remedy must leave
    every optimizer at the configured rate (decayed as of the step it goes on from), not
    only the one it changes."""
    config = tiny_config(data_folder, tmp_path / "run", steps=6, seed=0, lr_g=LR_G, lr_d=LR_D, lr_decay=4)
    session = open_session(config, None, distribute.Distribution())
    with session.lock:
        session.model.discriminator.optimizer.learning_rate.assign(LR_D * 2)  # as restored from an older checkpoint
        changes = rollback._apply_remedy(session, {"lr_g": 0.5}, step=4)
    assert changes == {"lr_g": [LR_G, LR_G / 2]} and session.config.lr_g == LR_G / 2
    rates = [float(network.optimizer.learning_rate) for network in (session.model.generator, session.model.discriminator)]
    assert rates == [pytest.approx(LR_G / 2 * 0.5), pytest.approx(LR_D * 0.5)]  # step 4 of 6, decay 4: factor 0.5
