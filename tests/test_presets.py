"""--preset recipe|recipe-tuned|dcgan|mlp|bilinear: defaults, validation, networks, steps, runs, resume.

The networks' shapes and parameter counts are pinned in test_models.py; here each preset
is checked as a run sees it: which settings it resolves to, which builders and step it
gets, what one step changes, and that a short run writes the usual outputs and resumes.
"""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest
from conftest import TINY_RUN_FLAGS, run_script

from gan.errors import UserError
from gan.settings.config import TrainConfig
from gan.settings.presets import PRESETS
from gan.training.builders import build_dcgan, build_networks
from gan.training.loop import train
from train import config_from_args

# The smallest settings each preset allows: mlp and bilinear are 28x28 by construction.
TINY = {"batch_size": 4, "latent_dim": 8, "grid_images": 4, "seed": 0}
TINY_SHAPES = {"recipe": (16, 1), "recipe-tuned": (16, 1), "dcgan": (16, 1), "mlp": (28, 1), "bilinear": (28, 1)}


def _tiny_config(preset: str, data: str = "unused", **changes) -> TrainConfig:
    size, channels = TINY_SHAPES[preset]
    base = config_from_args(["--preset", preset, "--data", data])[0]
    return dataclasses.replace(base, image_size=size, channels=channels, **TINY, **changes)


# Settings


def test_each_preset_sets_its_defaults_and_flags_given_still_win():
    dcgan, _ = config_from_args(["--preset", "dcgan", "--data", "faces"])
    assert (dcgan.batch_size, dcgan.lr_g, dcgan.lr_d, dcgan.label_noise, dcgan.init, dcgan.loss) == (
        128, 2e-4, 2e-4, 0.0, "dcgan", "bce"
    )
    assert (dcgan.image_size, dcgan.channels) == (64, 3), "the paper's 64x64 RGB"
    mlp, _ = config_from_args(["--preset", "mlp", "--data", "faces", "--batch-size", "16", "--label-noise", "0.1"])
    assert (mlp.image_size, mlp.channels, mlp.loss, mlp.batch_size, mlp.label_noise) == (28, 1, "logits", 16, 0.1)
    bilinear, _ = config_from_args(["--preset", "bilinear", "--data", "faces", "--lr-d", "5e-4"])
    assert (bilinear.batch_size, bilinear.lr_g, bilinear.lr_d, bilinear.clip_grad, bilinear.loss) == (
        128, 1e-3, 5e-4, 1.0, "logits"
    )
    assert config_from_args(["--data", "faces"])[0] == TrainConfig(data="faces", preset="recipe")


def test_recipe_tuned_is_the_recipe_with_the_ladders_settings_and_flags_given_still_win():
    tuned, _ = config_from_args(["--preset", "recipe-tuned", "--data", "faces"])
    recipe = TrainConfig(data="faces")
    assert (tuned.lr_g, tuned.lr_d, tuned.ema, tuned.width, tuned.width_d, tuned.mirror, tuned.mbstd) == (
        3e-4, 4e-4, 0.999, 3.0, 2.0, True, True
    )
    assert tuned.disc_width == 2.0
    ladder_settings = {name: getattr(recipe, name) for name in ("lr_g", "lr_d", "ema", "width", "width_d", "mirror", "mbstd")}
    assert dataclasses.replace(tuned, preset="recipe", **ladder_settings) == recipe, "nothing else differs from the recipe"
    given = config_from_args(
        ["--preset", "recipe-tuned", "--data", "faces", "--ema", "0", "--no-mirror", "--width", "1", "--width-d", "0", "--no-mbstd"]
    )[0]
    assert (given.ema, given.mirror, given.width, given.disc_width, given.mbstd) == (0.0, False, 1.0, 1.0, False)


def test_recipe_tuned_on_the_embedded_digits_keeps_them_unmirrored_unless_asked():
    demo, _ = config_from_args(["--preset", "recipe-tuned"])
    assert (demo.image_size, demo.channels, demo.batch_size, demo.steps, demo.ema, demo.width, demo.mbstd) == (
        32, 1, 32, 3000, 0.999, 3.0, True
    )
    assert not demo.mirror, "a digit flipped left to right is not a digit"
    assert config_from_args(["--preset", "recipe-tuned", "--mirror"])[0].mirror


def test_without_data_a_preset_trains_on_the_demo_digits_at_a_size_it_can_make():
    dcgan, _ = config_from_args(["--preset", "dcgan"])
    assert (dcgan.image_size, dcgan.channels, dcgan.batch_size, dcgan.steps) == (32, 1, 128, 3000)
    mlp, _ = config_from_args(["--preset", "mlp"])
    assert (mlp.image_size, mlp.channels, mlp.steps) == (28, 1, 3000)
    for config in (dcgan, mlp):
        config.validate()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--preset", "mlp", "--image-size", "64"], "--image-size: --preset mlp makes 28x28 images; received 64"),
        (["--preset", "dcgan", "--image-size", "28"], "--image-size: image size must be a power of two"),
        (["--preset", "bilinear", "--upsample", "bilinear"], "--upsample bilinear: the bilinear generator has no transposed"),
        (["--clip-grad", "-1"], "--clip-grad must be zero (off) or positive; received -1.0"),
        (["--preset", "mlp", "--no-disc-batch-norm"], "--no-disc-batch-norm: the mlp discriminator has no batch norm to drop"),
        (["--preset", "bilinear", "--g-updates", "2"], "--g-updates 2: --preset bilinear steps both networks from one forward pass"),
        (["--g-updates", "0"], "--g-updates must be a positive integer; received 0"),
        (["--width", "0"], "--width must be in (0, 8]; received 0.0"),
        (["--width", "16"], "--width must be in (0, 8]; received 16.0"),
        (["--preset", "mlp", "--width", "2"], "--width: the mlp networks are not the recipe's convolutional stacks"),
        (["--width-d", "-1"], "--width-d must be zero (as --width) or in (0, 8]; received -1.0"),
        (["--preset", "bilinear", "--width-d", "2"], "--width-d: the bilinear networks are not the recipe's convolutional stacks"),
    ],
)
def test_bad_or_incompatible_preset_flags_are_refused(flags, message):
    with pytest.raises(UserError, match=re.escape(message)):
        config_from_args(["--data", "faces", *flags])[0].validate()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--preset", "wgan"], "argument --preset: invalid choice: 'wgan' (choose from 'recipe', 'recipe-tuned', 'dcgan', 'mlp', 'bilinear')"),
        (["--upsample", "nearest"], "argument --upsample: invalid choice: 'nearest' (choose from 'transpose', 'bilinear')"),
    ],
)
def test_cli_refuses_an_unknown_choice_in_one_line(tmp_path, flags, message):
    result = run_script("train.py", *flags, "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {message} (see --help)"]


def test_a_resumed_run_keeps_its_preset_and_settings(tmp_path):
    config, _ = config_from_args(["--preset", "bilinear", "--data", "faces", "--batch-size", "32"])
    config.save(tmp_path / "config.json")
    loaded = TrainConfig.load(tmp_path / "config.json")
    assert loaded == config and json.loads((tmp_path / "config.json").read_text())["preset"] == "bilinear"
    resumed = loaded.resumed_with({"steps": 50})
    assert (resumed.preset, resumed.batch_size, resumed.lr_g) == ("bilinear", 32, 1e-3), "no defaults reapplied"
    with pytest.raises(UserError, match=re.escape("--preset mlp (the run has bilinear)")):
        loaded.resumed_with({"preset": "mlp"})


def test_a_run_saved_before_presets_existed_loads_as_the_recipe(tmp_path):
    fields = dataclasses.asdict(TrainConfig(data="faces"))
    for name in ("preset", "clip_grad", "upsample", "spectral_norm"):
        del fields[name]
    (tmp_path / "config.json").write_text(json.dumps(fields))
    assert TrainConfig.load(tmp_path / "config.json") == TrainConfig(data="faces")


# Networks


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_builds_its_own_networks_at_the_configured_size(preset):
    config = _tiny_config(preset)
    generator, discriminator = build_networks(config)
    size, channels = TINY_SHAPES[preset]
    assert generator.output_shape == (None, size, size, channels)
    assert discriminator.input_shape == (None, size, size, channels) and discriminator.output_shape == (None, 1)
    flat_noise = preset in ("mlp", "bilinear")
    assert generator.input_shape == ((None, 8) if flat_noise else (None, 1, 1, 8))
    assert discriminator.layers[-1].name == ("probability" if config.loss == "bce" else "score")
    has_biases = any("bias" in w.path for w in generator.weights)
    assert has_biases == (preset != "dcgan")


@pytest.mark.parametrize("preset", ["recipe", "dcgan"])
def test_width_reaches_both_networks_a_preset_builds(preset):
    plain = build_networks(_tiny_config(preset))
    wide = build_networks(_tiny_config(preset, width=2.0))
    # every hidden convolution twice as wide: each of their kernels four times as large
    assert [w.count_params() > 3 * p.count_params() for p, w in zip(plain, wide)] == [True, True]


@pytest.mark.parametrize("preset", ["recipe", "dcgan"])
def test_width_d_widens_the_discriminator_alone(preset):
    plain_generator, plain_discriminator = build_networks(_tiny_config(preset))
    generator, discriminator = build_networks(_tiny_config(preset, width_d=2.0))
    assert generator.count_params() == plain_generator.count_params()
    assert discriminator.count_params() > 3 * plain_discriminator.count_params()
    narrow_generator, wide_discriminator = build_networks(_tiny_config(preset, width=0.5, width_d=2.0))
    assert narrow_generator.count_params() < plain_generator.count_params() / 3
    assert wide_discriminator.count_params() == discriminator.count_params()


@pytest.mark.parametrize("size, channels", [(64, 3), (128, 3)])
def test_recipe_tuned_trains_the_recipes_networks_wider_at_the_tutorials_sizes_and_beyond(size, channels):
    """The recipe's networks at every size, layer for layer, the generator's hidden
    convolutions with three times the filters (about nine times the parameters), the
    discriminator's with twice (about four times) and a minibatch-stddev layer; one step
    moves every weight of both and the moving average."""
    tuned = dataclasses.replace(_tiny_config("recipe-tuned"), image_size=size, channels=channels)
    recipe = dataclasses.replace(tuned, preset="recipe", ema=0.0, width=1.0, width_d=0.0, mbstd=False)
    networks, recipe_networks = build_networks(tuned), build_networks(recipe)
    layer_classes = [[layer.__class__.__name__ for layer in network.layers] for network in networks]
    recipe_classes = [[layer.__class__.__name__ for layer in network.layers] for network in recipe_networks]
    assert layer_classes[0] == recipe_classes[0]
    assert [name for name in layer_classes[1] if name != "MinibatchStdDev"] == recipe_classes[1]
    assert layer_classes[1].count("MinibatchStdDev") == 1
    ratios = [network.count_params() / recipe_network.count_params() for network, recipe_network in zip(networks, recipe_networks)]
    assert 7.5 < ratios[0] < 9.1 and 3.5 < ratios[1] < 4.1, ratios
    model = build_dcgan(tuned)
    assert model.generator.output_shape == (None, size, size, channels) and model.sampler is not model.generator
    variables = [model.generator.trainable_variables, model.discriminator.trainable_variables, model.sampler.trainable_variables]
    before = [_snapshot(group) for group in variables]
    figures = model.compiled_train_step(jit_compile=False)(_images(tuned))
    assert [all(_moved(b, group)) for b, group in zip(before, variables)] == [True] * 3
    assert all(np.isfinite(float(keras.ops.convert_to_numpy(figures[key]))) for key in ("d_real_loss", "d_fake_loss", "g_loss"))
    assert float(model.generator.optimizer.learning_rate.numpy()) == pytest.approx(3e-4)
    assert float(model.discriminator.optimizer.learning_rate.numpy()) == pytest.approx(4e-4)


def test_discriminator_options_reach_every_preset():
    for preset in PRESETS:
        config = _tiny_config(preset, loss="hinge", spectral_norm=True, clip_grad=0.5)
        _, discriminator = build_networks(config)
        assert discriminator.layers[-1].name == "score"
        assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in discriminator.layers)
        assert discriminator.optimizer.clipvalue == 0.5
    for preset in ("recipe", "dcgan"):
        _, discriminator = build_networks(_tiny_config(preset, disc_batch_norm=False))
        assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator.layers)
    generator, discriminator = build_networks(_tiny_config("recipe", upsample="bilinear"))
    assert any(isinstance(layer, keras.layers.UpSampling2D) for layer in generator.layers)
    assert discriminator.optimizer.clipvalue is None, "--clip-grad 0 clips nothing"


# One training step


def _snapshot(variables) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value).copy() for v in variables]


def _moved(before, variables) -> list[bool]:
    return [not np.array_equal(b, keras.ops.convert_to_numpy(v.value)) for b, v in zip(before, variables)]


def _averages(network) -> list:
    return [v for v in network.non_trainable_variables if "moving" in v.path]


def _images(config: TrainConfig, seed: int = 0) -> np.ndarray:
    shape = (config.batch_size, config.image_size, config.image_size, config.channels)
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.mark.parametrize("preset", ["dcgan", "mlp", "bilinear"])
def test_one_step_updates_each_network_once_in_the_presets_order(preset):
    """Every weight of both networks moves, each optimizer steps once (the recipe's D steps
    twice), and batch-norm averages move where the network has them: both of dcgan's,
    the generators of mlp and bilinear."""
    config = _tiny_config(preset)
    model = build_dcgan(config)
    generator, discriminator = model.generator, model.discriminator
    assert model.schedule == PRESETS[preset].schedule
    real, fake = (keras.ops.convert_to_numpy(labels) for labels in model.noisy_labels(4))
    assert np.all(real == 1) and np.all(fake == 0), "hard labels"
    variables = [generator.trainable_variables, discriminator.trainable_variables, _averages(generator), _averages(discriminator)]
    before = [_snapshot(group) for group in variables]
    model.compiled_train_step(jit_compile=False)(_images(config))
    assert [all(_moved(b, group)) for b, group in zip(before, variables)] == [True] * 4
    assert len(variables[3]) == (2 if preset == "dcgan" else 0)
    assert int(generator.optimizer.iterations.numpy()) == int(discriminator.optimizer.iterations.numpy()) == 1


@pytest.mark.parametrize("preset, d_updates", [("recipe", 2), ("dcgan", 1), ("mlp", 1)])
def test_g_updates_repeats_the_generator_update_and_steps_still_count_as_steps(preset, d_updates):
    """--g-updates 2: two generator optimizer steps a training step, the discriminator's as
    before; the step count that lazy R1 and the moving average's ramp read stays the step's.
    From the same start, where the discriminator steps first (recipe, dcgan) it ends the
    step as with one generator update, and the generator does not."""
    single, double = build_dcgan(_tiny_config(preset, ema=0.9)), build_dcgan(_tiny_config(preset, g_updates=2, ema=0.9))
    for source, target in ((single.generator, double.generator), (single.discriminator, double.discriminator)):
        target.set_weights(source.get_weights())
    double.seed_generator.state.assign(single.seed_generator.state.value)
    images = _images(_tiny_config(preset))
    single.compiled_train_step(jit_compile=False)(images)
    step = double.compiled_train_step(jit_compile=False)
    step(images)
    generators = [_snapshot(model.generator.trainable_variables) for model in (single, double)]
    discriminators = [_snapshot(model.discriminator.trainable_variables) for model in (single, double)]
    assert not all(np.allclose(a, b) for a, b in zip(*generators))
    if preset != "mlp":
        assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(*discriminators))
    for _ in range(2):
        figures = step(images)
    assert int(double.generator.optimizer.iterations.numpy()) == 6
    assert int(double.discriminator.optimizer.iterations.numpy()) == 3 * d_updates
    assert int(keras.ops.convert_to_numpy(double.steps_done())) == 3
    assert np.isfinite(float(keras.ops.convert_to_numpy(figures["g_loss"])))


def test_dcgan_generator_update_sees_its_batch_normalised_discriminator_and_leaves_it_alone():
    """The core's rule for a discriminator with batch norm, on the dcgan preset's networks:
    the generator update judges with batch statistics and changes nothing of D."""
    config = _tiny_config("dcgan")
    model = build_dcgan(config)
    discriminator = model.discriminator
    model.compiled_train_step(jit_compile=False)(_images(config))  # D's averages away from their start
    noise = model.sample_noise(config.batch_size)
    real_labels, _ = model.noisy_labels(config.batch_size)
    fakes, _ = model.generator.stateless_call(
        _snapshot(model.generator.trainable_variables), _snapshot(model.generator.non_trainable_variables), noise, training=True
    )
    expected, _ = discriminator.stateless_call(
        _snapshot(discriminator.trainable_variables), _snapshot(discriminator.non_trainable_variables), fakes, training=True
    )
    d_before, g_before = _snapshot(discriminator.variables), _snapshot(model.generator.trainable_variables)
    _, judged, _ = model.generator_update(noise, real_labels)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(judged), keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6)
    assert not any(_moved(d_before, discriminator.variables)), "the generator update changed D or its averages"
    assert all(_moved(g_before, model.generator.trainable_variables))
    inference = keras.ops.convert_to_numpy(discriminator(fakes, training=False))
    assert np.max(np.abs(inference - keras.ops.convert_to_numpy(judged))) > 1e-3, "D judged in inference mode"


# Runs


def test_cli_trains_the_dcgan_preset_and_writes_the_usual_outputs(data_folder, tmp_path):
    out = tmp_path / "dcgan"
    result = run_script("train.py", "--preset", "dcgan", "--data", str(data_folder), "--out", str(out), "--seed", "1", *TINY_RUN_FLAGS)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert (config["preset"], config["batch_size"], config["init"], config["label_noise"], config["lr_g"]) == (
        "dcgan", 4, "dcgan", 0.0, 2e-4
    )
    assert len((out / "training_log.txt").read_text().splitlines()) == 25
    assert sorted(p.name for p in (out / "images").glob("*fixed_image.png")) == [f"{s:02d}fixed_image.png" for s in (0, 10, 20, 25)]
    generator = keras.saving.load_model(out / "models" / "generator_25.keras", safe_mode=True, compile=False)
    assert not any("bias" in w.path for w in generator.weights)


def test_cli_trains_recipe_tuned_on_the_embedded_digits_and_saves_its_average(tmp_path):
    out = tmp_path / "tuned"
    result = run_script("train.py", "--preset", "recipe-tuned", "--out", str(out), "--steps", "4", "--save-every", "2",
                        "--batch-size", "4", "--latent-dim", "8", "--grid-images", "4", "--mixed-precision", "off")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert (config["preset"], config["image_size"], config["channels"], config["ema"], config["lr_g"]) == (
        "recipe-tuned", 32, 1, 0.999, 3e-4
    )
    assert config["data"].endswith("digits")
    assert sorted(p.name for p in (out / "models").glob("ema_generator_*.keras")) == [
        "ema_generator_2.keras", "ema_generator_4.keras"
    ]
    assert len((out / "training_log.txt").read_text().splitlines()) == 4


@pytest.mark.parametrize("preset", ["mlp", "bilinear"])
def test_a_short_run_writes_the_usual_outputs_and_resumes_as_itself(preset, data_folder, tmp_path):
    out = tmp_path / preset
    config = _tiny_config(preset, str(data_folder), out=str(out), steps=4, sample_every=2, save_every=2, keep=0)
    train(config, show_progress=False)
    resumed, folder = config_from_args(["--resume", str(out), "--steps", "6"])
    assert (resumed.preset, resumed.batch_size, resumed.clip_grad) == (preset, 4, config.clip_grad)
    train(resumed, resume=folder, show_progress=False)

    assert len((out / "training_log.txt").read_text().splitlines()) == 6
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "0_image.png", "0fixed_image.png", "2_image.png", "2fixed_image.png", "4_image.png", "4fixed_image.png", "6fixed_image.png"
    ]
    assert np.load(out / "fixed_noise.npy").shape == (4, 8)
    generator = keras.saving.load_model(out / "models" / "generator_6.keras", safe_mode=True)
    discriminator = keras.saving.load_model(out / "models" / "discriminator_6.keras", safe_mode=True)
    assert generator.input_shape == (None, 8) and generator.output_shape == (None, 28, 28, 1)
    assert discriminator.layers[-1].name == "score"
    assert int(discriminator.optimizer.iterations.numpy()) == 6, "one D step per iteration, across the resume"
    assert (discriminator.optimizer.clipvalue or 0.0) == config.clip_grad
