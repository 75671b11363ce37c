"""The checklist printed before step 0: the data, the device, and the one property of
the step without which the recipe collapses to noise. A problem is a `warning:` line
that says what to do, or, for a broken step, an error that stops the run."""

from __future__ import annotations

import sys

import keras
import numpy as np

from gan.data.decode import find_image_files
from gan.data.folders import ImageSet, ImageStream
from gan.data.survey import Survey, decoded_sample, survey_images
from gan.errors import RunStopped
from gan.pictures.latent import seed_noise
from gan.runtime import engine_device, nvidia_gpu_present, unseen_gpu_advice
from gan.settings.config import TrainConfig
from gan.training.step import DCGAN

STREAM_SAMPLE = 2048  # files surveyed of a streamed set (--data-cache none), evenly spread
CHECK_NOISE_SEED = 12345  # noise of the step check, drawn apart from the run's streams


def run_preflight(config: TrainConfig, image_data: ImageSet | ImageStream, model: DCGAN, replicas: int) -> None:
    """Print the checklist; warn on stderr; raise RunStopped if the step is broken."""
    print("Pre-flight checklist:")
    survey, surveyed = _survey(config, image_data)
    print(f"  data:   {survey.summary()}{surveyed}")
    for warning in survey.warnings(config.channels, config.batch_size, config.mirror):
        print(f"warning: {warning}", file=sys.stderr)
    device, on_gpu = engine_device()
    print(f"  device: {device}")
    if nvidia_gpu_present() and not on_gpu:
        print(f"warning: {unseen_gpu_advice(keras.backend.backend())}", file=sys.stderr)
    print(f"  step:   {_step_check(model, config, replicas)}")


def _survey(config: TrainConfig, image_data: ImageSet | ImageStream) -> tuple[Survey, str]:
    files = find_image_files(config.data) if config.channels == 1 else None
    if isinstance(image_data, ImageSet):
        return survey_images(image_data.images, files), ""
    sample = decoded_sample(image_data.paths, STREAM_SAMPLE, config.image_size, config.channels)
    return survey_images(sample, files), f" (in a sample of {len(sample)} of {len(image_data.paths)} files)"


def _step_check(model: DCGAN, config: TrainConfig, replicas: int) -> str:
    """Whether the generator update's discriminator normalises with batch statistics: then
    changing the other images of a batch changes the first image's judgement."""
    discriminator = model.discriminator
    if not any(isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator.layers):
        return "no batch norm in the discriminator: nothing to check"
    if config.batch_size < 2:
        return "a batch of one image has no other images to compare: nothing to check"
    if replicas > 1 and keras.backend.backend() == "tensorflow":
        return "the batch-statistics check runs on one device (the step's code is the same); skipped"
    noise = seed_noise(CHECK_NOISE_SEED, config.batch_size, model.noise_shape)
    fakes = keras.ops.convert_to_numpy(model.generator(noise, training=False))
    others = np.concatenate([fakes[:1], -fakes[1:]])
    weights = [v.value for v in discriminator.trainable_variables]
    averages = [v.value for v in discriminator.non_trainable_variables]
    # DiffAugment draws from the run's noise stream: put it back, so the run is the same to the bit.
    noise_state = keras.ops.convert_to_numpy(model.seed_generator.state.value).copy()
    first = [keras.ops.convert_to_numpy(model.judge_for_generator(weights, averages, batch))[0] for batch in (fakes, others)]
    model.seed_generator.state.assign(noise_state)
    if np.allclose(first[0], first[1], rtol=0, atol=1e-7):
        raise RunStopped(
            "error: the generator update's discriminator normalises with its moving averages, not the batch's "
            "statistics (Keras 3's frozen-BatchNormalization trap; the recipe collapses to noise that way). "
            "This is a bug in the training step: gan/training/step.py judge_for_generator",
            exit_code=1,
        )
    return "the generator update's discriminator normalises with batch statistics"
