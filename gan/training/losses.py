"""The adversarial losses a run can train with (`--loss`).

Each is a pair: the discriminator's loss on a batch it should call real or fake, and the
generator's loss on the discriminator's outputs for its fakes. The labels are the step's
(noisy, unless label noise is 0) targets; the margin losses ignore them.

- bce: the recipe's. The discriminator ends in a sigmoid; binary cross-entropy on its
  probabilities.
- logits: the same loss on raw outputs, computed from logits: no probability is clipped
  to [1e-7, 1 - 1e-7], so a confident discriminator still passes gradient back.
- hinge: the margin loss of SAGAN and BigGAN: relu(1 - D(x)) for reals, relu(1 + D(G(z)))
  for fakes, -D(G(z)) for the generator.
- wgan-clip: the original WGAN critic (Arjovsky et al., 2017): -D(x), D(G(z)), -D(G(z)),
  with every discriminator weight clipped to [-0.01, 0.01] after each of its updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops

from gan.settings.choices import LOSS_NAMES
from gan.training.tensors import Tensor

WGAN_WEIGHT_CLIP = 0.01


def _mean_bce(labels, outputs, from_logits: bool):
    return ops.mean(keras.losses.binary_crossentropy(labels, outputs, from_logits=from_logits))


@dataclass(frozen=True)
class AdversarialLoss:
    name: str

    @property
    def discriminator_outputs_probabilities(self) -> bool:
        return self.name == "bce"

    @property
    def weight_clip(self) -> float | None:
        """The bound the discriminator's weights are clipped to after its updates, if any."""
        return WGAN_WEIGHT_CLIP if self.name == "wgan-clip" else None

    def raw_scores(self, outputs: Tensor) -> Tensor:
        """The discriminator's scores before any sigmoid: bce's probabilities as logits
        (clipped as Keras' cross-entropy clips them), the other losses' outputs as they are."""
        outputs = ops.cast(outputs, "float32")
        if not self.discriminator_outputs_probabilities:
            return outputs
        probabilities = ops.clip(outputs, keras.config.epsilon(), 1.0 - keras.config.epsilon())
        return ops.log(probabilities) - ops.log1p(-probabilities)

    def discriminator(self, outputs: Tensor, labels: Tensor, real: bool) -> Tensor:
        """Loss of the discriminator on one batch that is all real or all fake."""
        if self.name in ("bce", "logits"):
            return _mean_bce(labels, outputs, from_logits=self.name == "logits")
        if self.name == "hinge":
            return ops.mean(ops.relu(1.0 - outputs if real else 1.0 + outputs))
        return -ops.mean(outputs) if real else ops.mean(outputs)

    def generator(self, outputs: Tensor, labels: Tensor) -> Tensor:
        """Loss of the generator given the discriminator's outputs for its fakes."""
        if self.name in ("bce", "logits"):
            return _mean_bce(labels, outputs, from_logits=self.name == "logits")
        return -ops.mean(outputs)


def adversarial_loss(name: str) -> AdversarialLoss:
    if name not in LOSS_NAMES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}; received {name!r}")
    return AdversarialLoss(name)
