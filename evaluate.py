"""FID, KID, precision and recall of a run's generator against real images.

    python evaluate.py outputs/anime-1 --real animeface/ [-n 10000] [--inception-weights FILE]
    python evaluate.py --real folderA --fake folderB [--image-size N]

Features are those of the standard FID network (InceptionV3 2015-12-05; see README
"Quality metrics" for its weights). A run's samples are compared with the real images
resized to the run's size; two folders are compared at their images' own sizes, each
image through only the network's standard resize to 299, as reference FID code does
(--image-size resizes both first instead). A run's result is also appended, with its step, to
<run>/metrics.jsonl. Real-image features are cached per folder content and settings.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.folder import find_run, model_step, newest_generator
from gan.settings.config import FID_WEIGHTS


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="run folder (its newest generator) or a folder of runs")
    parser.add_argument("--real", type=Path, required=True, help="folder of real images")
    parser.add_argument("--fake", type=Path, help="folder of generated images, instead of a run")
    parser.add_argument("--model", type=Path, help="a generator .keras file instead of the run's newest")
    parser.add_argument("-n", "--count", type=int, default=10_000, help="images to generate [10000]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated images' noise [0]")
    parser.add_argument("--image-size", type=int, help="size real (and --fake) images are resized to first [a run's size; two folders: each image's own]")
    parser.add_argument("--inception-weights", type=Path, default=Path(FID_WEIGHTS), help=f"FID Inception .npz [{FID_WEIGHTS}]")
    args = parser.parse_args()
    if (args.run is None) == (args.fake is None):
        raise UserError("give either a run folder or --fake FOLDER (not both)")
    if args.count < 2:
        raise UserError(f"-n must be at least 2; received {args.count}")

    from gan.evaluation.evaluator import Evaluator, append_metrics, format_metrics
    from gan.runtime import set_up_tensorflow
    from gan.settings.config import TrainConfig

    set_up_tensorflow()
    if args.fake is not None:
        evaluator = Evaluator(args.inception_weights, args.real, args.image_size)
        print(format_metrics(evaluator.score_folder(args.fake)))
        return

    from gan.pictures.latent import load_generator

    run = find_run(args.run)
    model_file = args.model or newest_generator(run)
    generator = load_generator(model_file)
    channels = generator.output_shape[-1]  # a grey generator is judged against grey real images
    evaluator = Evaluator(args.inception_weights, args.real, args.image_size or TrainConfig.load(run / "config.json").image_size,
                          channels)
    result = evaluator.score_generator(generator, args.count, seed=args.seed)
    step = model_step(model_file)
    append_metrics(run, {"step": step, "generator": str(model_file), "real": str(args.real), **result})
    print(f"step {step}: {format_metrics(result)}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
