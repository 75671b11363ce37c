"""The step on every engine, schedule, loss and precision: same numbers where they must
agree, the right networks moving, finite losses."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import PROJECT_ROOT, needs_jax
from engine_replay import BATCH, LATENT, SIZE, make_inputs, replay

from gan.settings.choices import SCHEDULES
from gan.settings.recipe import DISCRIMINATOR_LEARNING_RATE
from gan.training.losses import WGAN_WEIGHT_CLIP, adversarial_loss
from gan.training.networks import get_disc_normal, get_gen_normal
from gan.training.step import DCGAN

ADAM_STEP = DISCRIMINATOR_LEARNING_RATE  # the larger of the recipe's rates: the most Adam moves a weight in one step


def _assert_same_run(expected: dict, actual: dict) -> None:
    """Losses and weights agree closely; a few weights in ten thousand may differ by up to
    one Adam step. Adam divides each gradient by its own size, so where a gradient is as
    small as the engines' rounding, its step can come out anywhere within the learning
    rate (CI saw 3 of 131,072 kernel entries off by 2e-5); a wrong step moves far more."""
    np.testing.assert_allclose(actual["losses"], expected["losses"], rtol=1e-4, atol=1e-5)
    weights = [key for key in expected if key.startswith("weight:")]
    assert len(weights) > 20
    for key in weights:
        gap = np.abs(actual[key] - expected[key])
        loose = gap > 1e-5 + 1e-3 * np.abs(expected[key])
        assert loose.mean() <= 1e-4, f"{key}: {loose.sum()} of {loose.size} weights differ"
        assert gap.max() <= ADAM_STEP, f"{key}: a weight differs by {gap.max():.2e}"


@needs_jax
def test_xla_and_jax_steps_match_the_tensorflow_graph(tmp_path):
    """Two full recipe steps from the same weights, images, noise and labels."""
    make_inputs(tmp_path)
    graph = replay(tmp_path, jit_compile=False)
    assert np.all(np.isfinite(graph["losses"])) and not np.allclose(graph["losses"][0], graph["losses"][1])
    _assert_same_run(graph, replay(tmp_path, jit_compile=True))
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "engine_replay.py"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_run(graph, dict(np.load(tmp_path / "jax.npz")))


def _tiny(**options) -> DCGAN:
    keras.utils.set_random_seed(0)
    return DCGAN(get_gen_normal((1, 1, LATENT), SIZE, 1), get_disc_normal((SIZE, SIZE, 1)), seed=0, sample_count=2, **options)


def _images(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)


def _snapshot(variables) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value).copy() for v in variables]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_each_schedule_steps_each_network_as_often_as_it_should(schedule):
    model = _tiny(schedule=schedule)
    generator, discriminator = model.generator, model.discriminator
    g_before, d_before = _snapshot(generator.trainable_variables), _snapshot(discriminator.trainable_variables)
    figures = model.compiled_train_step(jit_compile=False)(_images())
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(g_before, generator.trainable_variables))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(d_before, discriminator.trainable_variables))
    assert int(generator.optimizer.iterations.numpy()) == 1
    assert int(discriminator.optimizer.iterations.numpy()) == (2 if schedule == "recipe" else 1)
    assert all(np.isfinite(float(figures[key])) for key in ("d_real_loss", "d_fake_loss", "g_loss"))


def test_losses_match_their_definitions():
    outputs = np.array([[-2.0], [-0.5], [0.3], [1.5]], dtype=np.float32)
    labels = np.array([[1.0], [0.9], [0.0], [0.1]], dtype=np.float32)
    probabilities = 1 / (1 + np.exp(-outputs))
    bce = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))

    def value(name, part, *args):
        return float(getattr(adversarial_loss(name), part)(*args))

    assert value("bce", "discriminator", probabilities.astype(np.float32), labels, True) == pytest.approx(bce, rel=1e-5)
    assert value("logits", "discriminator", outputs, labels, False) == pytest.approx(bce, rel=1e-5)
    assert value("logits", "generator", outputs, labels) == pytest.approx(bce, rel=1e-5)
    assert value("hinge", "discriminator", outputs, labels, True) == pytest.approx(np.mean(np.maximum(0, 1 - outputs)))
    assert value("hinge", "discriminator", outputs, labels, False) == pytest.approx(np.mean(np.maximum(0, 1 + outputs)))
    assert value("hinge", "generator", outputs, labels) == pytest.approx(-np.mean(outputs))
    assert value("wgan-clip", "discriminator", outputs, labels, True) == pytest.approx(-np.mean(outputs))
    assert value("wgan-clip", "discriminator", outputs, labels, False) == pytest.approx(np.mean(outputs))
    with pytest.raises(ValueError, match="loss must be one of"):
        adversarial_loss("wasserstein")


def test_wgan_clip_keeps_every_discriminator_weight_in_bounds():
    model = _tiny(loss="wgan-clip")
    model.compiled_train_step(jit_compile=False)(_images())
    largest = max(float(np.max(np.abs(v.numpy()))) for v in model.discriminator.trainable_variables)
    assert largest == pytest.approx(WGAN_WEIGHT_CLIP)
    assert max(float(np.max(np.abs(v.numpy()))) for v in model.generator.trainable_variables) > 0.05


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step_gives_finite_losses_with_float32_weights(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = _tiny()
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.generator.layers[1].compute_dtype == policy.removeprefix("mixed_")
    assert all(v.dtype == "float32" for v in model.generator.trainable_variables)
    assert isinstance(model.generator.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    step = model.compiled_train_step(jit_compile=False)
    for seed in range(2):
        figures = step(_images(seed))
    assert all(np.isfinite(float(figures[key])) for key in ("d_real_loss", "d_fake_loss", "g_loss"))
    assert figures["samples"].dtype == "float32"
