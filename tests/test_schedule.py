"""--lr-decay: the rates each step runs at, in a real loop."""

import dataclasses

import pytest

from gan.settings.config import TrainConfig
from gan.training import distribute
from gan.training.loop import run_loop
from gan.training.schedule import learning_rate_factor
from gan.training.session import open_session

LR_G, LR_D = 1e-3, 2e-3


def test_the_factor_is_one_until_the_last_steps_then_falls_linearly_short_of_zero():
    assert [learning_rate_factor(step, 10, 4) for step in range(10)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [learning_rate_factor(step, 3, 0) for step in range(3)] == [1, 1, 1]
    assert [learning_rate_factor(step, 2, 2) for step in range(2)] == [1, 0.5]


def _rates_of_each_step(data_folder, tmp_path, **settings) -> list[tuple[float, float]]:
    config = TrainConfig(
        data=str(data_folder), out=str(tmp_path / "run"), steps=6, save_every=3, sample_every=3, image_size=16,
        channels=1, batch_size=4, latent_dim=8, grid_images=4, mixed_precision="off", seed=0, lr_g=LR_G, lr_d=LR_D,
        **settings,
    )
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
