"""The checklist before step 0: what it finds in the data, the device, and the step."""

import keras
import numpy as np
import pytest
from conftest import write_images

from gan.data.survey import survey_images
from gan.errors import RunStopped
from gan.settings.config import TrainConfig
from gan.training import preflight
from gan.training.builders import build_dcgan
from gan.training.step import DCGAN


def _varied(count: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 8, 8, channels), dtype=np.uint8)


def _warnings(images, channels, batch_size=4, files=None):
    return survey_images(images, files).warnings(channels, batch_size)


def test_clean_data_gives_no_warning():
    assert _warnings(_varied(100), 3) == []
    assert _warnings(_varied(100, channels=1), 1) == []


def test_duplicates_and_flat_images_are_counted_and_warned_past_one_percent():
    images = _varied(100)
    images[10:15] = images[0]
    images[20:23] = 128
    survey = survey_images(images)
    assert (survey.duplicates, survey.near_constant) == (7, 3)  # 5 copies of image 0, and 2 of the grey image
    assert [w.split(" ")[0:3] for w in _warnings(images, 3)] == [["7", "of", "100"], ["3", "images", "are"]]
    images = _varied(1000)
    images[1] = images[0]
    assert _warnings(images, 3) == [], "one duplicate in a thousand is normal"


def test_grey_images_trained_as_rgb_and_colour_files_trained_as_grey(tmp_path):
    grey = np.repeat(_varied(100, channels=1), 3, axis=-1)
    assert "are grayscale, trained as RGB: --channels 1" in _warnings(grey, 3)[0]
    files = write_images(tmp_path / "colour", 8)  # random RGB pictures
    assert "in colour, trained as grayscale" in _warnings(_varied(100, channels=1), 1, files=files)[0]


def test_too_few_images_for_the_batch():
    (warning,) = _warnings(_varied(30), 3, batch_size=4)
    assert warning.startswith("only 30 images, fewer than 10 batches of 4")
    assert "--mirror" in warning and "--diffaugment" in warning
    (mirrored,) = survey_images(_varied(30)).warnings(3, 4, mirrored=True)
    assert "--mirror" not in mirrored and mirrored.endswith("or pass --diffaugment")


def _tiny_model(**changes) -> tuple[DCGAN, TrainConfig]:
    settings = {"image_size": 16, "channels": 1, "batch_size": 4, "latent_dim": 8, "seed": 0, **changes}
    config = TrainConfig(data="", **settings)
    keras.utils.set_random_seed(0)
    return build_dcgan(config), config


def test_the_step_check_passes_on_the_real_step_and_fails_loudly_on_the_keras_3_trap(monkeypatch):
    model, config = _tiny_model()
    assert preflight._step_check(model, config, replicas=1) == (
        "the generator update's discriminator normalises with batch statistics"
    )

    def frozen(self, weights, averages, fake_images):  # what `discriminator.trainable = False` gives in Keras 3
        outputs, _ = self.discriminator.stateless_call(weights, averages, fake_images, training=False)
        return outputs

    monkeypatch.setattr(DCGAN, "judge_for_generator", frozen)
    with pytest.raises(RunStopped, match="normalises with its moving averages.*frozen-BatchNormalization trap") as stop:
        preflight._step_check(model, config, replicas=1)
    assert stop.value.exit_code == 1 and "\n" not in str(stop.value)


def test_the_step_check_leaves_the_run_state_alone():
    model, config = _tiny_model(diffaugment="color,translation,cutout", ema=0.9)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.state_variables]
    preflight._step_check(model, config, replicas=1)
    assert all(np.array_equal(a, keras.ops.convert_to_numpy(v)) for a, v in zip(before, model.state_variables))


def test_a_discriminator_without_batch_norm_needs_no_check():
    model, config = _tiny_model(preset="mlp", image_size=28)
    assert "no batch norm" in preflight._step_check(model, config, replicas=1)


def test_a_gpu_the_engine_cannot_see_is_a_warning_with_the_fix(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(preflight, "nvidia_gpu_present", lambda: True)
    model, config = _tiny_model()
    write_images(tmp_path / "data", 64)
    from gan.data.folders import load_image_folder

    preflight.run_preflight(config, load_image_folder(tmp_path / "data", 16, 1), model, replicas=1)
    out, err = capsys.readouterr()
    assert "Pre-flight checklist:" in out and "device: TensorFlow on the CPU" in out
    assert "warning: an NVIDIA GPU is present but TensorFlow cannot see it" in err
    assert "pip install 'tensorflow[and-cuda]==2.21.0'" in err


def test_train_prints_the_checklist_before_step_0(tiny_run):
    _, result = tiny_run
    checklist = result.stdout.index("Pre-flight checklist:")
    assert "step:   the generator update's discriminator normalises with batch statistics" in result.stdout
    assert checklist < result.stdout.index("step 10/25")
