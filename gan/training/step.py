"""The combined model and one training step: the recipe's semantics in one place.

One step, as in the recipe (`schedule="recipe"`):
1. the generator makes a batch of fakes from fresh noise (inference mode; with
   `fakes_batch_statistics`, training mode, as in the other write-ups);
2. noisy labels: real 1 - U(0, 0.2), fake U(0, 0.2), one per image;
3. the discriminator is updated on the real batch, then separately on the fake batch;
4. the generator is updated through the frozen discriminator on fresh noise, with the
   real labels as targets.

Step 4 is where a port to Keras 3 goes wrong. Setting `discriminator.trainable = False`
makes Keras 3 run its batch norm in inference mode (moving averages), and the recipe
then collapses to noise, on every data set we tried it on. It also
freezes the discriminator only as of whichever train function was traced last. So the
discriminator here is never frozen by flag: the generator step calls it through
`stateless_call` in training mode, which normalises with the batch's own statistics and
returns the moving-average updates instead of applying them; they are dropped, and only
the generator's variables are differentiated and updated.

The other classic write-ups order the same updates differently (SCHEDULES): "summed"
(DCGAN paper: one discriminator step on the real and fake losses summed, then the
generator on the same noise), "generator_first" (the generator step, then one summed
discriminator step on the fakes it made) and "simultaneous" (one forward pass, each
network stepped by its own loss). In the first three, `generator_updates` repeats the
generator's update within a step (the update ratio). Every network call is a `stateless_call`, so one
definition runs as a TensorFlow graph and under `jax.jit` alike (gan.training.engines), and as
one of several tf.distribute replicas with the global batch's meaning (gan.training.replicas).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from gan.pictures.latent import seed_noise
from gan.settings.choices import SCHEDULES
from gan.settings.recipe import LABEL_NOISE
from gan.training import engines, replicas
from gan.training.augment import consistency_transform, diff_augment
from gan.training.losses import adversarial_loss
from gan.training.tensors import Tensor

LOSSES = ("d_real_loss", "d_fake_loss", "g_loss")
REFRESH_IMAGES = 512
EMA_RAMPUP = 0.05  # StyleGAN2-ADA's: early on, the average spans the last 5% of the steps


def ema_decay_at(step: Tensor, decay: float) -> Tensor:
    """The moving average's decay after `step` generator updates: `decay`, held down early
    so that the average's half-life is at most EMA_RAMPUP of the steps so far, as
    StyleGAN2-ADA ramps its average. Without the ramp the starting weights keep a share of
    decay**step: 5% after 3,000 steps at 0.999, where the average of a 3,000-step faces run
    scored FID 203.8 against its own last weights' 177.6."""
    half_life = EMA_RAMPUP * ops.maximum(ops.cast(step, "float32"), 1.0)
    return ops.minimum(decay, ops.power(0.5, 1.0 / half_life))


def _values(variables) -> list:
    return [variable.value for variable in variables]


def _assign(variables, values) -> None:
    for variable, value in zip(variables, values):
        variable.assign(value)


class DCGAN(keras.Model):
    """Generator followed by the discriminator, trained with the recipe's step.

    Each network keeps the optimizer its builder compiled it with, so a saved generator
    or discriminator carries its own optimizer state.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: str = "bce",
        schedule: str = "recipe",
        label_noise: float = LABEL_NOISE,
        seed: int | None = None,
        sample_count: int = 16,
        undo_non_finite: bool = False,
        ema_decay: float = 0.0,
        augment: tuple[str, ...] = (),
        r1_gamma: float = 0.0,
        r1_every: int = 1,
        consistency: float = 0.0,
        generator_updates: int = 1,
        fakes_batch_statistics: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        engines.backend_check()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; received {schedule!r}")
        if generator_updates > 1 and schedule == "simultaneous":
            raise ValueError("the simultaneous schedule has one forward pass a step: one generator update")
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial_loss = adversarial_loss(loss)
        self.schedule = schedule
        self.noise_shape = tuple(generator.input_shape[1:])
        self.label_noise = label_noise
        self.sample_count = sample_count
        self.seed_generator = replicas.SeedGenerator(seed)
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
        self.r1_gamma, self.r1_every = r1_gamma, r1_every
        self.consistency = consistency
        self.generator_updates = generator_updates
        self.fakes_batch_statistics = fakes_batch_statistics

    @property
    def trained_variables(self) -> list[keras.Variable]:
        """What a step's updates change: weights, batch-norm averages, both optimizers'
        moments and counters, and the moving average."""
        networks = [self.generator, self.discriminator] + ([self.sampler] if self.ema_decay else [])
        found = [
            *(v for network in networks for v in network.variables),
            *self.generator.optimizer.variables,
            *self.discriminator.optimizer.variables,
        ]
        return list({id(variable): variable for variable in found}.values())

    @property
    def state_variables(self) -> list[keras.Variable]:
        """Everything a step may change: the trained variables and the noise state."""
        return [*self.trained_variables, self.seed_generator.state]

    def call(self, noise, training=False):
        return self.discriminator(self.generator(noise, training=training), training=training)

    def sample_noise(self, batch_size: int) -> Tensor:
        return keras.random.normal((batch_size, *self.noise_shape), seed=self.seed_generator)

    def noisy_labels(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Soft targets, one per image: real 1 - U(0, label_noise), fake U(0, label_noise)."""
        shape = (batch_size, 1)
        real = 1.0 - keras.random.uniform(shape, maxval=self.label_noise, seed=self.seed_generator)
        fake = keras.random.uniform(shape, maxval=self.label_noise, seed=self.seed_generator)
        return real, fake

    def train_step(self, real_images: Tensor) -> dict:
        """One step on a batch of real images in [-1, 1]; returns the step's figures.

        `samples` holds the first `sample_count` fakes of the step, for the sample grids.
        With `undo_non_finite`, a step whose losses are not all finite is undone whole
        (all its updates) and `undone` is true.
        """
        if not self.undo_non_finite:
            return self._scheduled_step(real_images)
        guarded = self.trained_variables
        # A copy, not `.value`: on TensorFlow that is the variable itself, read only when used.
        before = [ops.copy(variable.value) for variable in guarded]
        figures = self._scheduled_step(real_images)
        finite = ops.all(ops.isfinite(ops.stack([figures[key] for key in LOSSES])))
        for value, variable in zip(before, guarded):
            variable.assign(ops.where(finite, variable.value, value))
        return {**figures, "undone": ops.logical_not(finite)}

    def _scheduled_step(self, real_images) -> dict:
        batch_size = ops.shape(real_images)[0]
        real_labels, fake_labels = self.noisy_labels(batch_size)
        r1_due = self._r1_due()
        if self.schedule == "recipe":
            fake_images = self._recipe_fakes(self.sample_noise(batch_size))
            (d_real_loss,), (d_real,) = self.discriminator_update([(real_images, real_labels, True)], r1_due)
            (d_fake_loss,), (d_fake,) = self.discriminator_update([(fake_images, fake_labels, False)])
            g_loss, _ = self.generator_updates_on(lambda: self.sample_noise(batch_size), real_labels)
        elif self.schedule == "summed":
            noise = self.sample_noise(batch_size)
            fake_images = self._fakes_with_batch_statistics(noise)
            (d_real_loss, d_fake_loss), (d_real, d_fake) = self.discriminator_update(
                [(real_images, real_labels, True), (fake_images, fake_labels, False)], r1_due
            )
            g_loss, _ = self.generator_updates_on(lambda: noise, real_labels)
        elif self.schedule == "generator_first":
            g_loss, fake_images = self.generator_updates_on(lambda: self.sample_noise(batch_size), real_labels)
            (d_real_loss, d_fake_loss), (d_real, d_fake) = self.discriminator_update(
                [(real_images, real_labels, True), (fake_images, fake_labels, False)], r1_due
            )
        else:
            d_real_loss, d_fake_loss, g_loss, d_real, d_fake, fake_images = self.simultaneous_update(
                real_images, self.sample_noise(batch_size), real_labels, fake_labels
            )
        if self.ema_decay:
            self.update_ema()
        scalars = replicas.global_means({
            "d_real_loss": d_real_loss,
            "d_fake_loss": d_fake_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(d_real),
            "d_fake": ops.mean(d_fake),
        })
        return {**scalars, "samples": fake_images[: self.sample_count]}

    def steps_done(self) -> Tensor:
        """Training steps done so far, counted by the generator's updates, `generator_updates`
        to a step: read before a step's updates (lazy R1), the steps before it; after them
        (the moving average), the steps including it."""
        return ops.floor_divide(ops.convert_to_tensor(self.generator.optimizer.iterations), self.generator_updates)

    def _r1_due(self):
        """Whether this step pays the R1 penalty: every step, or with lazy regularisation
        every `r1_every`-th. None when R1 is off."""
        if not self.r1_gamma:
            return None
        return ops.equal(ops.mod(self.steps_done(), self.r1_every), 0)

    def judge_reals_with_r1(self, weights: list, averages: list, images: Tensor, due: Tensor | None) -> tuple[Tensor, list, Tensor]:
        """`_judge` on real images, plus the R1 penalty (gamma / 2) * E ||grad_x D(x)||^2
        (Mescheder et al. 2018), scaled by `r1_every` on the steps that pay it, as
        StyleGAN2's lazy regularisation does, and 0 on the others. The gradient is taken
        through DiffAugment, with respect to the images before it, as StyleGAN2-ADA does."""
        scale = self.r1_gamma / 2 * self.r1_every

        def penalised():
            judged, averages_after, gradients = engines.input_gradients(
                lambda x: self._judge(weights, averages, x), images
            )
            penalty = ops.mean(ops.sum(ops.square(ops.cast(gradients, "float32")), axis=(1, 2, 3)))
            return judged, averages_after, scale * penalty

        def unpenalised():
            judged, averages_after = self._judge(weights, averages, images)
            return judged, averages_after, ops.zeros((), "float32")

        if self.r1_every == 1:
            return penalised()
        if replicas.several_replicas():
            # tf.distribute cannot all-reduce (synchronised batch norm) inside a cond: pay
            # the penalty's cost every step there, and count it only on the due ones.
            judged, averages_after, penalty = penalised()
            return judged, averages_after, ops.where(due, penalty, ops.zeros_like(penalty))
        return ops.cond(due, penalised, unpenalised)

    def _recipe_fakes(self, noise):
        """The recipe step's fakes for the discriminator: the generator in inference mode, as
        the recipe's predict draws them, or with `fakes_batch_statistics` in training mode,
        the function its own update trains (its moving averages left as they are)."""
        if self.fakes_batch_statistics:
            return self._fakes_with_batch_statistics(noise)
        return self.generator(noise, training=False)

    def _fakes_with_batch_statistics(self, noise):
        """Fakes of the generator's current weights in training mode, for a discriminator
        update; the batch-norm averages after them are dropped."""
        return self._generate(_values(self.generator.trainable_variables), noise)[0]

    def _augmented(self, images):
        """What the discriminator sees: the images through DiffAugment, if enabled."""
        return diff_augment(images, self.augment, self.seed_generator) if self.augment else images

    def _generate(self, weights, noise):
        """Fakes in training mode, and the generator's batch-norm averages after them."""
        return self.generator.stateless_call(
            weights, _values(self.generator.non_trainable_variables), noise, training=True
        )

    def _judge(self, weights, averages, images):
        """The discriminator's outputs in training mode (batch statistics), and its
        batch-norm averages after them; nothing is assigned."""
        return self.discriminator.stateless_call(weights, averages, self._augmented(images), training=True)

    def _apply(self, network: keras.Model, gradients) -> None:
        gradients = replicas.overflow_everywhere(network.optimizer, gradients)
        network.optimizer.apply(gradients, network.trainable_variables)
        if network is self.discriminator and self.adversarial_loss.weight_clip:
            bound = self.adversarial_loss.weight_clip
            for weight in network.trainable_variables:
                weight.assign(ops.clip(weight.value, -bound, bound))

    def update_ema(self) -> None:
        """Move the averaged weights towards the generator's, by ema_decay_at this step
        (once a step, after all its generator updates)."""
        decay = ema_decay_at(self.steps_done(), self.ema_decay)
        for average, weight in zip(self.sampler.trainable_variables, self.generator.trainable_variables):
            average.assign(decay * average.value + (1.0 - decay) * weight.value)

    def refresh_sampler_statistics(self, seed: int) -> None:
        """Give the averaged generator batch-norm statistics of its own weights.

        The trained generator's moving averages describe its current weights, not the
        average of its past ones; borrowed, they shift every activation (on the digits,
        FID 98 against the recipe's 29). So before the average draws or is saved, it runs
        once in training mode on REFRESH_IMAGES noise vectors (seeded, outside the training
        noise stream) with its batch norms' momentum at 0: their averages become that
        batch's exact statistics, whatever momentum the network was built with. A no-op
        without --ema.
        """
        if self.sampler is self.generator:
            return
        norms = [layer for layer in self.sampler.layers if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [norm.momentum for norm in norms]
        noise = seed_noise(seed, REFRESH_IMAGES, self.noise_shape)
        try:
            for norm in norms:
                norm.momentum = 0.0
            self.sampler(noise, training=True)
        finally:
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum

    def consistency_penalty(self, weights: list, averages: list, images: Tensor, judged: Tensor) -> tuple[Tensor, list]:
        """bCR's term for one batch the discriminator trains on: `consistency` times the mean
        squared difference of its raw scores for the images (`judged`) and for their
        `consistency_transform`, with gradients through both, as Zhao et al. train it. Real
        and fake batches pay it alike (the balanced form): they found that with reals alone
        the generator learns to make the transform's artefacts. Returns (penalty, the
        batch-norm averages after the transformed batch too)."""
        transformed, averages = self._judge(weights, averages, consistency_transform(images, self.seed_generator))
        difference = self.adversarial_loss.raw_scores(judged) - self.adversarial_loss.raw_scores(transformed)
        return self.consistency * ops.mean(ops.square(difference)), averages

    def discriminator_update(self, batches: list[tuple[Tensor, Tensor, bool]], r1_due: Tensor | None = None) -> tuple[list, list]:
        """One optimizer step of the discriminator alone on the summed loss of `batches`,
        each (images, labels, whether they are real); returns (losses, outputs), one each
        per batch. Its batch-norm averages see the batches in order. With `r1_due` (see
        `_r1_due`), the real batch's R1 penalty joins the loss stepped on, not the losses
        returned, which stay the adversarial ones the log shows; so does bCR's term with
        `consistency`."""
        discriminator = self.discriminator

        def scaled_loss(weights):
            averages, losses, outputs, penalties = _values(discriminator.non_trainable_variables), [], [], []
            for images, labels, real in batches:
                if real and r1_due is not None:
                    judged, averages, penalty = self.judge_reals_with_r1(weights, averages, images, r1_due)
                    penalties.append(penalty)
                else:
                    judged, averages = self._judge(weights, averages, images)
                if self.consistency:
                    penalty, averages = self.consistency_penalty(weights, averages, images, judged)
                    penalties.append(penalty)
                losses.append(self.adversarial_loss.discriminator(judged, labels, real))
                outputs.append(judged)
            total = sum(losses) + sum(penalties)
            return [discriminator.optimizer.scale_loss(total)], (losses, outputs, averages)

        (losses, outputs, averages), (gradients,) = engines.value_and_gradients(
            scaled_loss, _values(discriminator.trainable_variables)
        )
        self._apply(discriminator, gradients)
        _assign(discriminator.non_trainable_variables, averages)
        return losses, outputs

    def judge_for_generator(self, weights: list, averages: list, fake_images: Tensor) -> Tensor:
        """The discriminator's outputs as the generator update sees them: in training mode,
        normalising with the batch's own statistics (never the moving averages, Keras 3's
        frozen-BatchNormalization trap), and changing no state: the moving averages it
        returns are dropped. The pre-flight checklist checks this very function."""
        judged, _ = self._judge(weights, averages, fake_images)
        return judged

    def generator_updates_on(self, noise: Callable[[], Tensor], labels: Tensor) -> tuple[Tensor, Tensor]:
        """`generator_updates` generator updates in a row, each on `noise()`: fresh noise
        in the recipe's order, the discriminator's noise again in the DCGAN paper's (as the
        DCGAN-tensorflow faces code updates its generator twice a step, so that the
        discriminator's loss cannot fall to zero). Returns (their mean loss, the last
        update's fakes)."""
        losses = []
        for _ in range(self.generator_updates):
            loss, _, fake_images = self.generator_update(noise(), labels)
            losses.append(loss)
        return ops.mean(ops.stack(losses)), fake_images

    def generator_update(self, noise: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One optimizer step of the generator through the discriminator; returns
        (loss, the discriminator's outputs, the fakes). The discriminator is untouched."""
        generator = self.generator
        judge_weights = _values(self.discriminator.trainable_variables)
        judge_averages = _values(self.discriminator.non_trainable_variables)

        def scaled_loss(weights):
            fake_images, averages = self._generate(weights, noise)
            judged = self.judge_for_generator(judge_weights, judge_averages, fake_images)
            loss = self.adversarial_loss.generator(judged, labels)
            return [generator.optimizer.scale_loss(loss)], (loss, judged, fake_images, averages)

        (loss, judged, fake_images, averages), (gradients,) = engines.value_and_gradients(
            scaled_loss, _values(generator.trainable_variables)
        )
        self._apply(generator, gradients)
        _assign(generator.non_trainable_variables, averages)
        return loss, judged, ops.stop_gradient(fake_images)

    def simultaneous_update(self, real_images: Tensor, noise: Tensor, real_labels: Tensor, fake_labels: Tensor) -> tuple[Tensor, ...]:
        """Both networks stepped from one forward pass, each by its own loss (the
        TensorFlow DCGAN tutorial's way); the generator's loss sees the discriminator as it
        was before this step."""
        generator, discriminator = self.generator, self.discriminator

        def scaled_losses(generator_weights, discriminator_weights):
            fake_images, generator_averages = self._generate(generator_weights, noise)
            averages = _values(discriminator.non_trainable_variables)
            real_judged, averages = self._judge(discriminator_weights, averages, real_images)
            fake_judged, averages = self._judge(discriminator_weights, averages, fake_images)
            d_real_loss = self.adversarial_loss.discriminator(real_judged, real_labels, True)
            d_fake_loss = self.adversarial_loss.discriminator(fake_judged, fake_labels, False)
            g_loss = self.adversarial_loss.generator(fake_judged, real_labels)
            scaled = [generator.optimizer.scale_loss(g_loss), discriminator.optimizer.scale_loss(d_real_loss + d_fake_loss)]
            return scaled, (d_real_loss, d_fake_loss, g_loss, real_judged, fake_judged, fake_images,
                            generator_averages, averages)

        figures, (generator_gradients, discriminator_gradients) = engines.value_and_gradients(
            scaled_losses, _values(generator.trainable_variables), _values(discriminator.trainable_variables)
        )
        *losses_and_outputs, fake_images, generator_averages, discriminator_averages = figures
        self._apply(generator, generator_gradients)
        self._apply(discriminator, discriminator_gradients)
        _assign(generator.non_trainable_variables, generator_averages)
        _assign(discriminator.non_trainable_variables, discriminator_averages)
        return (*losses_and_outputs, ops.stop_gradient(fake_images))

    def compiled_train_step(self, jit_compile: bool = True) -> Callable[[object], dict]:
        """`train_step` as one compiled call (a TensorFlow graph, XLA-compiled when asked,
        or one `jax.jit`): no per-step Python beyond the call."""
        return engines.compile_step(self.train_step, self.state_variables, jit_compile)
