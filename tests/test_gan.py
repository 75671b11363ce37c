"""The recipe's step under Keras 3: who moves in which update, and the frozen D's batch norm."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan.training.networks import get_disc_normal, get_gen_normal
from gan.training.step import DCGAN, ema_decay_at

SIZE, LATENT, BATCH = 16, 8, 6


def _tiny_dcgan(seed: int = 0) -> DCGAN:
    keras.utils.set_random_seed(seed)
    generator = get_gen_normal((1, 1, LATENT), image_size=SIZE, channels=1)
    discriminator = get_disc_normal((SIZE, SIZE, 1))
    return DCGAN(generator, discriminator, seed=seed, sample_count=4)


def _values(variables) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def _changed(before, variables) -> list[bool]:
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def _restore(variables, values) -> None:
    for variable, value in zip(variables, values):
        variable.assign(value)


def _moving_statistics(model):
    return [v for v in model.non_trainable_variables if "moving" in v.path]


def _updates(model: DCGAN, compiled: bool):
    if compiled:
        return tf.function(model.discriminator_update), tf.function(model.generator_update)
    return model.discriminator_update, model.generator_update


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_each_update_moves_only_its_own_network_step_after_step(compiled):
    model = _tiny_dcgan()
    generator, discriminator = model.generator, model.discriminator
    discriminator_update, generator_update = _updates(model, compiled)
    rng = np.random.default_rng(0)
    for _ in range(4):
        images = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
        real_labels, fake_labels = model.noisy_labels(BATCH)

        g_before, d_before = _values(generator.variables), _values(discriminator.variables)
        discriminator_update([(images, real_labels, True)])
        assert not any(_changed(g_before, generator.variables)), "a D update moved G"
        assert all(_changed(d_before[: len(discriminator.trainable_variables)], discriminator.trainable_variables))
        d_stats = _values(_moving_statistics(discriminator))
        discriminator_update([(images, fake_labels, False)])
        assert all(_changed(d_stats, _moving_statistics(discriminator))), "D's own step must update its batch norm"

        g_trainable_before = _values(generator.trainable_variables)
        d_before = _values(discriminator.variables)
        d_optimizer_before = _values(discriminator.optimizer.variables)
        generator_update(model.sample_noise(BATCH), real_labels)
        assert not any(_changed(d_before, discriminator.variables)), "a G update moved D or its moving averages"
        assert not any(_changed(d_optimizer_before, discriminator.optimizer.variables))
        assert all(_changed(g_trainable_before, generator.trainable_variables))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_generator_update_sees_the_discriminator_with_batch_statistics(compiled):
    model = _tiny_dcgan()
    discriminator_update, generator_update = _updates(model, compiled)
    rng = np.random.default_rng(1)
    for _ in range(3):
        real_labels, fake_labels = model.noisy_labels(BATCH)
        images = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
        discriminator_update([(images, real_labels, True)])
        noise = model.sample_noise(BATCH)
        # What the generator update will see: its own pre-update training-mode output,
        # judged by D (which the update must not change) in training and inference mode.
        generator_state = _values(model.generator.variables)
        fakes = model.generator(noise, training=True)
        _restore(model.generator.variables, generator_state)
        d_state = _values(model.discriminator.variables)
        expected_training = model.discriminator(fakes, training=True).numpy()
        _restore(model.discriminator.variables, d_state)
        inference = model.discriminator(fakes, training=False).numpy()

        _, seen, _ = generator_update(noise, real_labels)
        np.testing.assert_allclose(seen, expected_training, rtol=1e-5, atol=1e-6)
        assert np.max(np.abs(seen - inference)) > 1e-3, "D ran in inference mode in the G update"


def test_noisy_labels_lie_in_the_recipes_ranges():
    model = _tiny_dcgan()
    real, fake = (np.asarray(labels) for labels in model.noisy_labels(4096))
    assert real.shape == fake.shape == (4096, 1)
    assert 0.8 <= real.min() and real.max() <= 1.0 and real.std() > 0.05
    assert 0.0 <= fake.min() and fake.max() <= 0.2 and fake.std() > 0.05


def test_compiled_step_trains_both_networks_and_reports_its_figures():
    model = _tiny_dcgan()
    step = model.compiled_train_step(jit_compile=False)
    images = np.random.default_rng(2).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
    g_before = _values(model.generator.trainable_variables)
    d_before = _values(model.discriminator.trainable_variables)
    for _ in range(2):
        figures = step(images)
    assert all(_changed(g_before, model.generator.trainable_variables))
    assert all(_changed(d_before, model.discriminator.trainable_variables))
    for key in ("d_real_loss", "d_fake_loss", "g_loss", "d_real", "d_fake"):
        assert np.isfinite(float(figures[key])), key
    assert 0 < float(figures["d_real"]) < 1 and 0 < float(figures["d_fake"]) < 1
    assert figures["samples"].shape == (4, SIZE, SIZE, 1)
    assert model.generator.optimizer.iterations.numpy() == 2
    assert model.discriminator.optimizer.iterations.numpy() == 4


def test_ema_generator_tracks_the_moving_average_of_the_weights():
    """Past the ramp (1,000 generator updates in), the average moves by the decay given."""
    keras.utils.set_random_seed(0)
    model = DCGAN(get_gen_normal((1, 1, LATENT), SIZE, 1), get_disc_normal((SIZE, SIZE, 1)), ema_decay=0.75)
    assert model.sampler is not model.generator
    model.generator.optimizer.iterations.assign(1000)
    step = model.compiled_train_step(jit_compile=False)
    images = np.random.default_rng(4).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
    average = _values(model.generator.trainable_variables)
    for _ in range(3):
        step(images)
        average = [0.75 * a + 0.25 * w for a, w in zip(average, _values(model.generator.trainable_variables))]
        for expected, actual in zip(average, model.sampler.trainable_variables):
            np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("step", "expected"), [(1, 0.5**20), (100, 0.5**0.2), (2000, 0.5 ** (1 / 100)), (20000, 0.999)])
def test_the_average_ramps_its_decay_up_to_the_one_given(step, expected):
    """Half-life at most 5% of the steps so far: 0.05 steps after one, 5 after 100, 100 after
    2,000 (decay 0.99309); 0.999 once its own half-life (693 steps) is the shorter."""
    assert float(ema_decay_at(step, 0.999)) == pytest.approx(expected, rel=1e-5)


def test_the_first_average_is_the_trained_generator_not_its_starting_weights():
    keras.utils.set_random_seed(0)
    model = DCGAN(get_gen_normal((1, 1, LATENT), SIZE, 1), get_disc_normal((SIZE, SIZE, 1)), ema_decay=0.999)
    start = _values(model.sampler.trainable_variables)
    model.compiled_train_step(jit_compile=False)(np.random.default_rng(4).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32))
    trained = _values(model.generator.trainable_variables)
    assert any(not np.allclose(a, b) for a, b in zip(start, trained)), "the step must move the generator"
    for expected, actual in zip(trained, model.sampler.trainable_variables):
        np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_the_average_gets_batch_norm_statistics_of_its_own_weights():
    """Borrowed from the trained generator, the statistics misdescribe the averaged weights;
    refreshed, inference-mode pictures come close to training-mode ones."""
    keras.utils.set_random_seed(0)
    model = DCGAN(get_gen_normal((1, 1, LATENT), SIZE, 1), get_disc_normal((SIZE, SIZE, 1)), ema_decay=0.5)
    step = model.compiled_train_step(jit_compile=False)
    images = np.random.default_rng(4).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
    for _ in range(20):
        step(images)
    noise = np.random.default_rng(5).standard_normal((256, 1, 1, LATENT)).astype(np.float32)

    def mismatch():
        saved = _values(model.sampler.non_trainable_variables)
        training = model.sampler(noise, training=True).numpy()
        _restore(model.sampler.non_trainable_variables, saved)
        return np.mean(np.abs(model.sampler(noise, training=False).numpy() - training))

    for average, statistic in zip(model.sampler.non_trainable_variables, model.generator.non_trainable_variables):
        average.assign(statistic.value)
    borrowed = mismatch()
    weights = _values(model.sampler.trainable_variables)
    model.refresh_sampler_statistics(seed=0)
    assert mismatch() < borrowed / 2
    norms = [layer for layer in model.sampler.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(norm.momentum == 0.5 for norm in norms), "the recipe's momentum must come back"
    assert all(np.array_equal(w, v.numpy()) for w, v in zip(weights, model.sampler.trainable_variables))


def test_without_ema_the_generator_draws_the_pictures():
    model = _tiny_dcgan()
    assert model.sampler is model.generator


@pytest.mark.parametrize("batch_statistics", [False, True], ids=["moving averages", "batch statistics"])
def test_the_recipe_steps_fakes_come_from_the_generator_mode_asked_for(batch_statistics):
    """--fakes-batch-stats: the discriminator's fakes (the step's samples) are the
    generator's training-mode output; by default its inference-mode output, the recipe's
    predict. Moving averages far from any batch's statistics tell the two apart."""
    model = _tiny_dcgan()
    model.fakes_batch_statistics = batch_statistics
    for variable in model.generator.non_trainable_variables:
        if "moving_mean" in variable.path:
            variable.assign(np.full(variable.shape, 3.0, np.float32))
    images = np.random.default_rng(3).uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32)
    noise_state = np.array(model.seed_generator.state.numpy())
    model.noisy_labels(BATCH)
    noise = model.sample_noise(BATCH)
    model.seed_generator.state.assign(noise_state)
    generator_state = _values(model.generator.variables)
    training_mode = model.generator(noise, training=True).numpy()[:4]
    _restore(model.generator.variables, generator_state)
    inference_mode = model.generator(noise, training=False).numpy()[:4]
    assert np.max(np.abs(training_mode - inference_mode)) > 0.1

    samples = np.asarray(model.train_step(images)["samples"])
    expected = training_mode if batch_statistics else inference_mode
    np.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-5)
