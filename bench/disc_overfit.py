"""Does a run's discriminator know its training images by heart? Its scores on training
faces, on faces it never saw and on the generator's fakes, at each saved checkpoint.

    python bench/disc_overfit.py RUN --train faces-train/ --held-out faces-held-out/

A discriminator that generalises scores unseen real faces like the training ones; one
that has memorised its data set scores them like fakes, and then stops teaching the
generator what faces look like (Karras et al. 2020, "Training generative adversarial
networks with limited data"). The figures are theirs:

- r_v = (E[D(train)] - E[D(held out)]) / (E[D(train)] - E[D(fake)]): 0 when unseen faces
  score like training faces, 1 when they score like fakes;
- r_t = E[sign D(train)]: how sure it is of its training images, which needs no held-out
  set (their adaptive augmentation aims for 0.6).

Scores are raw (logits; a probability p is read as log(p / (1 - p))), on unaugmented
images, in training mode, one kind of image per batch, as the recipe's step shows them to
the discriminator. Two more columns say how far the scores of the training images move
under bCR's change (`--consistency`: mirrored at random, shifted by up to 1/8) and under
the mirror alone, as mean squared differences: bCR's penalty is its weight times the
first. Fakes come from the trained generator in inference mode, not from its
moving average, as the recipe's step draws them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import start_backend  # noqa: E402
from gan import cli  # noqa: E402
from gan.data.folders import load_image_folder  # noqa: E402
from gan.errors import UserError  # noqa: E402
from gan.runs.folder import RunDir, list_checkpoints  # noqa: E402
from gan.settings.config import TrainConfig  # noqa: E402

BATCH = 64


def raw_scores(discriminator, images) -> np.ndarray:
    """The discriminator's scores as logits, a batch of BATCH at a time in training mode."""
    from gan.training.losses import adversarial_loss

    scores = adversarial_loss("bce" if discriminator.layers[-1].name == "probability" else "logits").raw_scores
    return np.concatenate([
        np.asarray(scores(discriminator(images[start:start + BATCH], training=True)), dtype=np.float64).ravel()
        for start in range(0, len(images) - BATCH + 1, BATCH)
    ])


def score_changes(discriminator, images: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Mean squared change of the raw scores (`scores`, raw_scores of `images`) under bCR's
    change, and under the mirror alone."""
    import keras

    from gan.training.augment import consistency_transform

    changed = np.concatenate([np.asarray(consistency_transform(images[s:s + BATCH], keras.random.SeedGenerator(s)))
                              for s in range(0, len(images), BATCH)])
    mirrored = images[:, :, ::-1]
    return (float(np.mean((scores - raw_scores(discriminator, changed)) ** 2)),
            float(np.mean((scores - raw_scores(discriminator, mirrored)) ** 2)))


def overfitting(train: np.ndarray, held_out: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Mean scores, the share of each kind judged real, and r_v and r_t (module docstring)."""
    means = {kind: float(s.mean()) for kind, s in (("train", train), ("held_out", held_out), ("fake", fake))}
    spread = means["train"] - means["fake"]
    return {
        **{f"score_{kind}": mean for kind, mean in means.items()},
        **{f"real_{kind}": float(np.mean(s > 0)) for kind, s in (("train", train), ("held_out", held_out), ("fake", fake))},
        "r_v": (means["train"] - means["held_out"]) / spread if spread else float("nan"),
        "r_t": float(np.mean(np.sign(train))),
    }


def _pixels(folder: Path, config: TrainConfig, count: int) -> np.ndarray:
    images = load_image_folder(folder, config.image_size, config.channels).images[:count]
    if len(images) < BATCH:
        raise UserError(f"{folder} has {len(images)} readable images; at least {BATCH} are needed")
    return images.astype(np.float32) / 127.5 - 1.0


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a train.py run folder")
    parser.add_argument("--train", type=Path, required=True, help="the folder the run trained on")
    parser.add_argument("--held-out", type=Path, required=True, help="faces of the same kind it never saw")
    parser.add_argument("-n", type=int, default=1024, help="images of each kind [1024]")
    args = parser.parse_args()
    if not (args.run / "config.json").is_file():
        raise UserError(f"{args.run} is not a train.py run folder: it has no config.json")
    config = TrainConfig.load(args.run / "config.json")
    checkpoints = list_checkpoints(RunDir(args.run, config.steps))
    if not checkpoints:
        raise UserError(f"{args.run} has no checkpoint")
    print(start_backend())
    import keras

    import gan.training.layers  # noqa: F401  registers the project's layers (--mbstd's) with Keras for load_model

    train, held_out = _pixels(args.train, config, args.n), _pixels(args.held_out, config, args.n)
    noise = np.random.default_rng(0).standard_normal((args.n, 1, 1, config.latent_dim), dtype=np.float32)
    print("| step | D(train) | D(held out) | D(fake) | judged real: train / held out / fake | r_v | r_t | score change², bCR / mirror |")
    print("|---|---|---|---|---|---|---|---|")
    for checkpoint in checkpoints:
        discriminator = keras.saving.load_model(checkpoint.discriminator, safe_mode=True, compile=False)
        generator = keras.saving.load_model(checkpoint.generator, safe_mode=True, compile=False)
        fake = np.concatenate([np.asarray(generator(noise[s:s + BATCH], training=False)) for s in range(0, args.n, BATCH)])
        train_scores = raw_scores(discriminator, train)
        r = overfitting(train_scores, raw_scores(discriminator, held_out), raw_scores(discriminator, fake))
        changed, mirrored = score_changes(discriminator, train, train_scores)
        print(f"| {checkpoint.step} | {r['score_train']:.2f} | {r['score_held_out']:.2f} | {r['score_fake']:.2f} | "
              f"{r['real_train']:.2f} / {r['real_held_out']:.2f} / {r['real_fake']:.2f} | {r['r_v']:.2f} | {r['r_t']:.2f} | "
              f"{changed:.2f} / {mirrored:.2f} |")


if __name__ == "__main__":
    sys.exit(cli.run(main))
