"""The tutorial's training loop, re-implemented as it is written: the speed baseline.

Per step, as in the tutorial's code: list the image
files again, sample a batch of paths with replacement and decode them with PIL
(`open`, `resize`, `convert`, `x / 127.5 - 1`); `generator.predict` on fresh noise;
`discriminator.train_on_batch` on the reals with labels 1 - U(0, 0.2), then on the fakes
with labels U(0, 0.2); then `train_on_batch` of the combined model (discriminator
`trainable = False`, compiled as in the recipe) on new noise with the real labels. The
trainable flags are toggled around the calls as the tutorial does.

Only its speed is of interest here: its known Keras 3 defect (the frozen discriminator's
batch norm in inference mode) is kept, and so is every per-step cost (file listing and
decoding, `predict`, three `train_on_batch`). Left out, as the project's step leaves
them out of its timing too: the grids every 100 steps and the log line; also an unused
concatenation of the real and fake batches (a few milliseconds).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from PIL import Image

from gan.data.decode import find_image_files
from gan.settings.recipe import ADAM_BETA_1, GENERATOR_LEARNING_RATE
from gan.training.networks import get_disc_normal, get_gen_normal

LABEL_NOISE = 0.2  # the recipe's: real labels 1 - U(0, 0.2), fake U(0, 0.2)


class RecipeLoop:
    """The recipe's networks and loop on a folder of images; `step()` runs one step."""

    def __init__(self, folder: Path, image_size: int = 64, channels: int = 3, batch_size: int = 64,
                 latent_dim: int = 100, seed: int = 0):
        self.folder, self.image_size, self.channels = Path(folder), image_size, channels
        self.batch_size, self.noise_shape = batch_size, (1, 1, latent_dim)
        self.rng = np.random.default_rng(seed)
        self.generator = get_gen_normal(self.noise_shape, image_size, channels)
        self.discriminator = get_disc_normal((image_size, image_size, channels))
        self.discriminator.trainable = False
        noise = keras.Input(shape=self.noise_shape)
        self.gan = keras.Model(noise, self.discriminator(self.generator(noise)))
        self.gan.compile(
            loss="binary_crossentropy",
            optimizer=keras.optimizers.Adam(learning_rate=GENERATOR_LEARNING_RATE, beta_1=ADAM_BETA_1),
        )

    def sample_from_dataset(self) -> np.ndarray:
        """A batch of random files, decoded now: the tutorial's `sample_from_dataset`."""
        paths = find_image_files(self.folder)  # the tutorial globs the folder every step
        batch = np.empty((self.batch_size, self.image_size, self.image_size, self.channels), np.float32)
        for index, path in enumerate(self.rng.choice(paths, self.batch_size)):
            image = Image.open(path).resize((self.image_size, self.image_size))
            image = np.asarray(image.convert("RGB" if self.channels == 3 else "L"))
            batch[index] = image.reshape(batch.shape[1:]) / 127.5 - 1
        return batch

    def noise(self) -> np.ndarray:
        return self.rng.normal(0, 1, (self.batch_size, *self.noise_shape))

    def step(self) -> dict[str, float]:
        """One step of the tutorial's loop; returns its three losses."""
        real = self.sample_from_dataset()
        fake = self.generator.predict(self.noise(), verbose=0)
        real_labels = 1 - self.rng.random(self.batch_size) * LABEL_NOISE
        fake_labels = self.rng.random(self.batch_size) * LABEL_NOISE
        self.discriminator.trainable = True
        self.generator.trainable = False
        d_real_loss = self.discriminator.train_on_batch(real, real_labels)
        d_fake_loss = self.discriminator.train_on_batch(fake, fake_labels)
        self.generator.trainable = True
        self.discriminator.trainable = False
        g_loss = self.gan.train_on_batch(self.noise(), real_labels)
        return {"d_real_loss": float(d_real_loss), "d_fake_loss": float(d_fake_loss), "g_loss": float(g_loss)}
