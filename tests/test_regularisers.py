"""R1, bCR and the minibatch-stddev feature: pinned against hand-computed values on tiny
networks, in the TensorFlow engine here and in the JAX engine through a subprocess."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import PROJECT_ROOT, TINY_FLAGS, needs_jax, run_script, write_images
from keras import layers

from gan.runs.text_log import read_log
from gan.training import replicas
from gan.training.augment import consistency_transform
from gan.training.layers import MinibatchStdDev
from gan.training.losses import adversarial_loss
from gan.training.networks import get_disc_normal, get_gen_normal
from gan.training.step import DCGAN

GAMMA = 3.0


def _square_sum_discriminator() -> keras.Model:
    """D(x) = sum_j w_j x_j^2, a raw score: grad_x D = 2 w x, so |grad|^2 = 4 sum_j w_j^2 x_j^2."""
    image = keras.Input((16, 16, 1))
    squared = layers.Activation(keras.ops.square)(image)
    score = layers.Dense(1, use_bias=False, dtype="float32")(layers.Flatten()(squared))
    model = keras.Model(image, score)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _model(r1_every: int = 1, gamma: float = GAMMA) -> DCGAN:
    keras.utils.set_random_seed(0)
    return DCGAN(get_gen_normal((1, 1, 8), 16, 1), _square_sum_discriminator(), loss="logits",
                 r1_gamma=gamma, r1_every=r1_every)


def test_r1_penalty_is_the_hand_computed_gradient_norm():
    model = _model()
    weights = np.random.default_rng(1).normal(size=(256, 1)).astype("float32")
    model.discriminator.layers[-1].kernel.assign(weights)
    images = np.random.default_rng(2).normal(size=(5, 16, 16, 1)).astype("float32")
    d = model.discriminator
    _, _, penalty = model.judge_reals_with_r1(
        [v.value for v in d.trainable_variables], [v.value for v in d.non_trainable_variables], images, None
    )
    per_image = 4 * np.sum(weights[:, 0] ** 2 * images.reshape(5, 256) ** 2, axis=1)
    assert float(penalty) == pytest.approx(GAMMA / 2 * per_image.mean(), rel=1e-5)


def _discriminator_after_one_step(r1_every: int, gamma: float, steps_done: int) -> list[np.ndarray]:
    model = _model(r1_every, gamma)
    model.generator.optimizer.iterations.assign(steps_done)
    step = model.compiled_train_step(jit_compile=False)
    step(np.random.default_rng(3).uniform(-1, 1, (4, 16, 16, 1)).astype("float32"))
    return [keras.ops.convert_to_numpy(v) for v in model.discriminator.trainable_variables]


def test_lazy_r1_is_paid_only_every_kth_step():
    plain = _discriminator_after_one_step(1, 0.0, steps_done=5)
    unpaid = _discriminator_after_one_step(4, GAMMA, steps_done=5)
    paid = _discriminator_after_one_step(4, GAMMA, steps_done=8)
    plain_at_8 = _discriminator_after_one_step(1, 0.0, steps_done=8)
    assert all(np.array_equal(a, b) for a, b in zip(plain, unpaid))
    assert not all(np.allclose(a, b) for a, b in zip(plain_at_8, paid))


def test_bce_probabilities_give_back_their_logits():
    logits = np.linspace(-8, 8, 9).astype("float32")
    probabilities = keras.ops.sigmoid(logits)
    assert np.allclose(keras.ops.convert_to_numpy(adversarial_loss("bce").raw_scores(probabilities)), logits, atol=1e-3)
    assert np.array_equal(keras.ops.convert_to_numpy(adversarial_loss("hinge").raw_scores(logits)), logits)


def test_the_consistency_transform_mirrors_some_images_and_shifts_all_by_at_most_an_eighth():
    images = np.zeros((32, 16, 16, 1), np.float32)
    images[:, 8, 6, 0], images[:, 8, 9, 0] = 1.0, 0.5  # bright left of dim; mirrored: right of it
    out = keras.ops.convert_to_numpy(consistency_transform(images, keras.random.SeedGenerator(4)))
    mirrored = []
    for picture in out:
        (bright_y, bright_x), = np.argwhere(picture[..., 0] == 1.0)
        (dim_y, dim_x), = np.argwhere(picture[..., 0] == 0.5)
        assert bright_y == dim_y and abs(bright_y - 8) <= 2 and abs(bright_x - dim_x) == 3
        assert picture.sum() == 1.5
        mirrored.append(bright_x > dim_x)
        unshifted_x = 9 if mirrored[-1] else 6  # where the bright pixel is before the shift
        assert abs(bright_x - unshifted_x) <= 2
    assert 0 < sum(mirrored) < len(mirrored), "each image is mirrored or not, at random"


def test_the_consistency_transform_fills_the_gap_by_reflection_not_zeros():
    images = np.ones((32, 16, 16, 1), np.float32)
    images[:, :, 0, 0] = 0.5  # an edge column: reflection mirrors across it, never repeats it
    out = keras.ops.convert_to_numpy(consistency_transform(images, keras.random.SeedGenerator(5)))
    assert np.all(np.isin(out, [0.5, 1.0])), "no zero fill"
    edge_columns = (out == 0.5).sum(axis=(1, 2, 3)) // 16
    assert set(edge_columns) == {0, 1}, "the edge column is kept once or shifted out, never repeated"


def _consistency_model(loss: str, weight: float, seed: int = 7) -> DCGAN:
    keras.utils.set_random_seed(0)
    discriminator = get_disc_normal((16, 16, 1), logits=loss != "bce")
    return DCGAN(get_gen_normal((1, 1, 8), 16, 1), discriminator, loss=loss, seed=seed, consistency=weight)


@pytest.mark.parametrize("loss", ["bce", "hinge"])
def test_consistency_penalty_is_the_weighted_mean_squared_change_of_the_raw_score(loss):
    model = _consistency_model(loss, 10.0)
    d = model.discriminator
    weights, averages = [v.value for v in d.trainable_variables], [v.value for v in d.non_trainable_variables]
    images = np.random.default_rng(2).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    judged, averages_after_images = d.stateless_call(weights, averages, images, training=True)
    penalty, _ = model.consistency_penalty(weights, averages_after_images, images, judged)
    # The same draws: the transform is the first thing the model's noise state was asked for.
    transformed = consistency_transform(images, replicas.SeedGenerator(7))
    transformed_judged, _ = d.stateless_call(weights, averages_after_images, transformed, training=True)
    scores = adversarial_loss(loss).raw_scores
    expected = 10.0 * np.mean((keras.ops.convert_to_numpy(scores(judged)) - keras.ops.convert_to_numpy(scores(transformed_judged))) ** 2)
    assert expected > 1e-4
    assert float(penalty) == pytest.approx(expected, rel=1e-4)


def test_the_consistency_weight_changes_the_discriminator_step_alone():
    images = np.random.default_rng(3).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    trained = {}
    for weight in (0.0, 10.0):
        model = _consistency_model("bce", weight)
        model.discriminator_update([(images, np.ones((4, 1), "float32"), True)])
        trained[weight] = [keras.ops.convert_to_numpy(v) for v in model.discriminator.trainable_variables]
    assert not all(np.allclose(a, b) for a, b in zip(trained[0.0], trained[10.0]))


def test_mbstd_sees_the_spread_of_the_batch():
    layer = MinibatchStdDev(4)
    varied = np.random.default_rng(0).normal(size=(8, 4, 4, 3)).astype("float32")
    repeated = np.repeat(varied[:1], 8, axis=0)
    spread_varied = keras.ops.convert_to_numpy(layer(varied))[..., -1]
    spread_repeated = keras.ops.convert_to_numpy(layer(repeated))[..., -1]
    assert np.allclose(spread_repeated, 1e-4, atol=1e-6)  # sqrt of the epsilon: no spread at all
    assert spread_varied.min() > 0.5
    # StyleGAN2-ADA's grouping: image i is in group i mod 2 of the two groups of 4.
    groups = varied.reshape(4, 2, 4, 4, 3)
    expected = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    assert np.allclose(spread_varied[:, 0, 0], np.tile(expected, 4), rtol=1e-5)


def test_a_discriminator_with_mbstd_saves_and_loads_safely(tmp_path):
    discriminator = get_disc_normal((16, 16, 1), logits=True, mbstd_group=2)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    discriminator.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True)
    assert np.allclose(discriminator(images), loaded(images))


ENGINES = {
    "graph-bfloat16": ([], {}, ["--mixed-precision", "mixed_bfloat16"]),
    "xla": ([], {}, ["--xla"]),
    "jax": ([], {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}, []),
    "mirrored": (["split"], {}, ["--distribute", "mirrored"]),
}


@pytest.mark.parametrize("engine", [pytest.param(name, marks=needs_jax if name == "jax" else ()) for name in ENGINES])
def test_r1_bcr_and_mbstd_train_in_every_engine(tmp_path, engine):
    launcher, env, engine_flags = ENGINES[engine]
    data, run = tmp_path / "data", tmp_path / "run"
    write_images(data, 8)
    flags = ["--data", str(data), "--out", str(run), *TINY_FLAGS, "--loss", "hinge", "--r1", "1", "--r1-every", "2",
             "--consistency", "10", "--mbstd", "--mbstd-group", "2", "--steps", "4", "--save-every", "4", "--seed", "0", *engine_flags]
    script = [str(PROJECT_ROOT / "tests" / "distributed_runs.py"), str(tmp_path), *launcher] if launcher else [
        str(PROJECT_ROOT / "train.py")]
    result = subprocess.run([sys.executable, *script, *flags], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), **env), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    history = read_log(run / "training_log.txt")
    assert list(history.steps) == [0, 1, 2, 3]
    assert np.all(np.isfinite([history.d_real_loss, history.d_fake_loss, history.g_loss]))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--r1", "-1", "--loss", "logits"], r"--r1 must be zero \(off\) or positive; received -1\.0"),
        (["--mbstd", "--mbstd-group", "3", "--batch-size", "4"], r"--mbstd-group 3 must divide --batch-size 4 \(--no-mbstd turns minibatch stddev off\)"),
        (["--preset", "recipe-tuned", "--batch-size", "30"], r"--mbstd-group 4 must divide --batch-size 30 \(--no-mbstd .*\)"),
        (["--r1", "1"], "--r1 penalises the gradient of the discriminator's raw score; .*"),
        (["--consistency", "-1"], r"--consistency must be zero \(off\) or positive; received -1\.0"),
        (["--consistency", "10", "--diffaugment", "translation"], "--consistency and --diffaugment are two ways .*; choose one"),
        (["--consistency", "10", "--preset", "bilinear"], r"--consistency is not available with --preset bilinear \(one pass steps both networks\)"),
    ],
)
def test_bad_regulariser_flags_are_one_line_errors_and_write_nothing(tmp_path, flags, message):
    result = run_script("train.py", "--data", str(tmp_path), "--out", str(tmp_path / "run"), *flags)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(f"error: {message}", lines[0]), result.stderr
    assert not (tmp_path / "run").exists()


@needs_jax
def test_the_same_checks_pass_in_the_jax_engine():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    tests = ("test_r1_penalty_is_the_hand_computed_gradient_norm or test_lazy_r1 or test_mbstd_sees or "
             "test_bce_probabilities or test_the_consistency or test_consistency_penalty")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(PROJECT_ROOT / "tests" / "test_regularisers.py"),
         "-k", tests], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "9 passed" in result.stdout
