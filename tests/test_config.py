import dataclasses
import re

import pytest

from gan.errors import UserError
from gan.settings.config import (
    DIGITS_DEMO,
    PROJECT_ROOT,
    TrainConfig,
    digits_demo_config,
)


def test_round_trips_through_json(tmp_path):
    config = TrainConfig(data="faces", steps=7, seed=3, lr_g=1e-3, xla=True)
    config.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == config


@pytest.mark.parametrize(
    "change, message",
    [
        ({"steps": 0}, "--steps must be a positive integer; received 0"),
        ({"steps": -5}, "--steps must be a positive integer; received -5"),
        ({"batch_size": 0}, "--batch-size must be a positive integer; received 0"),
        ({"image_size": 48}, "--image-size: image size must be a power of two"),
        ({"channels": 2}, "--channels must be 1 or 3; received 2"),
        ({"init": "he"}, "--init must be one of glorot, dcgan; received 'he'"),
        ({"lr_d": 0.0}, "--lr-d must be positive; received 0.0"),
        ({"label_noise": 0.7}, "--label-noise must be in [0, 0.5); received 0.7"),
        ({"seed": -1}, "--seed must be in [0, 2**32); received -1"),
        ({"eval_every": 100}, "--eval-every needs --eval-real FOLDER"),
        ({"health_every": -1}, "--health-every must be zero (every --sample-every) or a positive integer; received -1"),
        ({"on_trouble": "panic"}, "--on-trouble must be one of warn, stop, rollback; received 'panic'"),
        ({"eval_every": -1}, "--eval-every must be zero (never) or a positive integer; received -1"),
        ({"eval_count": 0}, "--eval-count must be a positive integer; received 0"),
        ({"eval_every": 100, "eval_real": "real/", "eval_count": 3}, "--eval-count must be at least 4; received 3"),
        ({"ema": 1.0}, "--ema must be in [0, 1); received 1.0"),
        ({"lr_decay": -1}, "--lr-decay must be zero (constant rates) or a step count up to --steps 10000; received -1"),
        ({"lr_decay": 10_001}, "--lr-decay must be zero (constant rates) or a step count up to --steps 10000; received 10001"),
        ({"loss": "wgan-gp"}, "--loss must be one of bce, logits, hinge, wgan-clip; received 'wgan-gp'"),
        ({"mixed_precision": "float16"}, "--mixed-precision must be one of auto, off, mixed_bfloat16, mixed_float16; received 'float16'"),
        ({"data_cache": "disk"}, "--data-cache must be one of memory, none; received 'disk'"),
    ],
)
def test_validate_names_the_flag_and_echoes_the_value(change, message):
    with pytest.raises(UserError, match=re.escape(message)):
        dataclasses.replace(TrainConfig(data="x"), **change).validate()


def test_the_embedded_demo_lives_in_the_project():
    config = digits_demo_config()
    config.validate()
    assert (config.image_size, config.channels) == (32, 1)
    assert DIGITS_DEMO.is_relative_to(PROJECT_ROOT) and config.data == str(DIGITS_DEMO)
    assert len(list(DIGITS_DEMO.rglob("*.png"))) == 5000
