"""The combined model and one training step: the recipe's semantics in one place.

One step, as in the recipe:
1. the generator makes a batch of fakes from fresh noise (inference mode);
2. noisy labels: real 1 - U(0, 0.2), fake U(0, 0.2), one per image;
3. the discriminator is updated on the real batch, then separately on the fake batch;
4. the generator is updated through the frozen discriminator on fresh noise, with the
   real labels as targets.

Step 4 is where a port to Keras 3 goes wrong. Setting `discriminator.trainable = False`
makes Keras 3 run its batch norm in inference mode (moving averages), and the recipe
then collapses to noise (../shared/reference/recipe.md has the measurements). It also
freezes the discriminator only as of whichever train function was traced last. So the
discriminator here is never frozen by flag: the generator step calls it through
`stateless_call` in training mode, which normalises with the batch's own statistics and
returns the moving-average updates instead of applying them; they are dropped, and only
the generator's variables are differentiated and updated.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf
from keras import ops

from gan.augment import diff_augment

LABEL_NOISE = 0.2
LOSSES = ("d_real_loss", "d_fake_loss", "g_loss")


def _binary_crossentropy(labels, probabilities):
    return ops.mean(keras.losses.binary_crossentropy(labels, probabilities))


class DCGAN(keras.Model):
    """Generator followed by the discriminator, trained with the recipe's step.

    Each network keeps the optimizer its builder compiled it with, so a saved generator
    or discriminator carries its own optimizer state.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        label_noise: float = LABEL_NOISE,
        seed: int | None = None,
        sample_count: int = 16,
        undo_non_finite: bool = False,
        ema_decay: float = 0.0,
        augment: tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "the training step needs the TensorFlow backend; "
                f"KERAS_BACKEND is {keras.backend.backend()!r}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.noise_shape = tuple(generator.input_shape[1:])
        self.label_noise = label_noise
        self.sample_count = sample_count
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Build the optimizers now so that no variable is created inside a traced step.
        generator.optimizer.build(generator.trainable_variables)
        discriminator.optimizer.build(discriminator.trainable_variables)
        self.augment = augment
        self.ema_decay = ema_decay
        # The generator to draw pictures with: an exponential moving average of the trained
        # one's weights when ema_decay > 0 (smoother, usually better images), else itself.
        self.sampler = generator
        if ema_decay:
            self.sampler = keras.models.clone_model(generator)
            self.sampler.set_weights(generator.get_weights())
        self.undo_non_finite = undo_non_finite
        if undo_non_finite:
            # Everything a step changes except the noise state: weights, batch-norm
            # averages, optimizer moments and counters. A copy costs memory, not much time.
            self._guarded = [
                *generator.variables, *discriminator.variables,
                *generator.optimizer.variables, *discriminator.optimizer.variables,
                *(self.sampler.variables if ema_decay else []),
            ]
            self._before_step = [tf.Variable(v.value, trainable=False) for v in self._guarded]

    def call(self, noise, training=False):
        return self.discriminator(self.generator(noise, training=training), training=training)

    def sample_noise(self, batch_size):
        return keras.random.normal((batch_size, *self.noise_shape), seed=self.seed_generator)

    def noisy_labels(self, batch_size):
        """Soft targets, one per image: real 1 - U(0, label_noise), fake U(0, label_noise)."""
        shape = (batch_size, 1)
        real = 1.0 - keras.random.uniform(shape, maxval=self.label_noise, seed=self.seed_generator)
        fake = keras.random.uniform(shape, maxval=self.label_noise, seed=self.seed_generator)
        return real, fake

    def train_step(self, real_images) -> dict:
        """One recipe step on a batch of real images in [-1, 1]; returns the step's figures.

        `samples` holds the first `sample_count` fakes of the step, for the sample grids.
        With `undo_non_finite`, a step whose losses are not all finite is undone whole
        (all three updates) and `undone` is true.
        """
        if not self.undo_non_finite:
            return self._recipe_step(real_images)
        for copy, variable in zip(self._before_step, self._guarded):
            copy.assign(variable.value)
        figures = self._recipe_step(real_images)
        finite = ops.all(ops.isfinite(ops.stack([figures[key] for key in LOSSES])))
        for copy, variable in zip(self._before_step, self._guarded):
            variable.assign(ops.where(finite, variable.value, copy))
        return {**figures, "undone": ops.logical_not(finite)}

    def _recipe_step(self, real_images) -> dict:
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.sample_noise(batch_size), training=False)
        real_labels, fake_labels = self.noisy_labels(batch_size)
        d_real_loss, d_real = self.discriminator_update(real_images, real_labels)
        d_fake_loss, d_fake = self.discriminator_update(fake_images, fake_labels)
        g_loss, _ = self.generator_update(self.sample_noise(batch_size), real_labels)
        if self.ema_decay:
            self.update_ema()
        return {
            "d_real_loss": d_real_loss,
            "d_fake_loss": d_fake_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(d_real),
            "d_fake": ops.mean(d_fake),
            "samples": fake_images[: self.sample_count],
        }

    def _augmented(self, images):
        """What the discriminator sees: the images through DiffAugment, if enabled."""
        return diff_augment(images, self.augment, self.seed_generator) if self.augment else images

    def update_ema(self) -> None:
        """Move the average towards the generator's weights; copy its batch-norm averages."""
        decay = self.ema_decay
        for average, weight in zip(self.sampler.trainable_variables, self.generator.trainable_variables):
            average.assign(decay * average.value + (1.0 - decay) * weight.value)
        for average, statistic in zip(self.sampler.non_trainable_variables, self.generator.non_trainable_variables):
            average.assign(statistic.value)

    def discriminator_update(self, images, labels):
        """One optimizer step of the discriminator alone; returns (loss, its outputs)."""
        discriminator = self.discriminator
        with tf.GradientTape() as tape:
            probabilities = discriminator(self._augmented(images), training=True)
            loss = _binary_crossentropy(labels, probabilities)
        variables = discriminator.trainable_variables
        discriminator.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, probabilities

    def generator_update(self, noise, labels):
        """One optimizer step of the generator through the discriminator; returns
        (loss, the discriminator's outputs). The discriminator's state is untouched."""
        generator, discriminator = self.generator, self.discriminator
        with tf.GradientTape() as tape:
            fake_images = generator(noise, training=True)
            # Batch statistics, no state change: the returned moving averages are dropped.
            probabilities, _ = discriminator.stateless_call(
                [v.value for v in discriminator.trainable_variables],
                [v.value for v in discriminator.non_trainable_variables],
                self._augmented(fake_images),
                training=True,
            )
            loss = _binary_crossentropy(labels, probabilities)
        variables = generator.trainable_variables
        generator.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, probabilities

    def compiled_train_step(self, jit_compile: bool = True) -> Callable[[object], dict]:
        """`train_step` as one graph (XLA-compiled when asked): no per-step Python."""
        return tf.function(self.train_step, jit_compile=jit_compile)
