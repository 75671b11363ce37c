"""--lr-decay: the learning rates of each step, set before the step runs.

The rates are plain optimizer variables assigned from the host, not a Keras
LearningRateSchedule, so that a rollback's remedy (which lowers the configured rates) and
a resume (which restores the optimizers) compose with the decay without knowing of it:
every step's rate is the configured rate times this step's factor.
"""

from __future__ import annotations

from gan.settings.config import TrainConfig
from gan.training.step import DCGAN


def learning_rate_factor(step: int, steps: int, decay_steps: int) -> float:
    """The factor on the configured rates for the update of step `step` (0-based):
    1 until the last `decay_steps` steps, then falling linearly to 1/decay_steps at the
    last step, so that no step is wasted at a rate of zero."""
    if not decay_steps:
        return 1.0
    return min(1.0, (steps - step) / decay_steps)


def assign_learning_rates(model: DCGAN, config: TrainConfig, step: int) -> None:
    """Give both optimizers the configured rates for the update of step `step`."""
    factor = learning_rate_factor(step, config.steps, config.lr_decay)
    model.generator.optimizer.learning_rate.assign(config.lr_g * factor)
    model.discriminator.optimizer.learning_rate.assign(config.lr_d * factor)


def set_learning_rates(model: DCGAN, config: TrainConfig, step: int) -> None:
    """Before each step: the rates of step `step` (a no-op without --lr-decay, whose
    rates change only when a rollback changes the configured ones)."""
    if config.lr_decay:
        assign_learning_rates(model, config, step)
