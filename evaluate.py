"""FID, KID, precision and recall of a run's generator against real images.

    python evaluate.py outputs/anime-1 --real animeface/ [-n 10000] [--inception-weights FILE]
    python evaluate.py --real folderA --fake folderB [--image-size N]
    python evaluate.py outputs/anime-1 --nearest animeface/ [--real held-out/]   # does it copy?

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
from gan.data.decode import find_image_files
from gan.errors import UserError
from gan.runs.folder import find_run, model_step, newest_generator
from gan.settings.config import FID_WEIGHTS, MIN_EVAL_COUNT, TrainConfig

NEAREST_COUNT = 1000  # fakes behind a copy score: its medians settle well before FID's 10,000
METRICS_COUNT = 10_000


def _parser() -> cli.OneLineErrorParser:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="run folder (its newest generator) or a folder of runs")
    parser.add_argument("--real", type=Path, help="folder of real images (with --nearest: unseen ones, the yardstick)")
    parser.add_argument("--fake", type=Path, help="folder of generated images, instead of a run")
    parser.add_argument("--nearest", type=Path, metavar="DATA", help="the run's training images: show each fake's "
                        "nearest ones and print a copy score, instead of the metrics")
    parser.add_argument("--show", type=int, default=8, help="with --nearest: fakes in the picture [8]")
    parser.add_argument("-o", "--output", type=Path, help="with --nearest: the picture [<run>/nearest.png]")
    parser.add_argument("--model", type=Path, help="a generator .keras file instead of the run's newest")
    parser.add_argument("-n", "--count", type=int, help=f"images to generate [{METRICS_COUNT}; --nearest: {NEAREST_COUNT}]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated images' noise [0]")
    parser.add_argument("--image-size", type=int, help="size real (and --fake) images are resized to first [a run's size; two folders: each image's own]")
    parser.add_argument("--inception-weights", type=Path, default=Path(FID_WEIGHTS), help=f"FID Inception .npz [{FID_WEIGHTS}]")
    return parser


def _check(args) -> None:
    """Refuse bad input before TensorFlow starts or anything is written."""
    if (args.run is None) == (args.fake is None):
        raise UserError("give either a run folder or --fake FOLDER (not both)")
    minimum = 2 if args.nearest is not None else MIN_EVAL_COUNT
    if args.count is not None and args.count < minimum:
        raise UserError(f"-n must be at least {minimum}; received {args.count}")
    if args.seed < 0:
        raise UserError(f"--seed must be zero or positive; received {args.seed}")
    if args.image_size is not None and args.image_size < 1:
        raise UserError(f"--image-size must be a positive integer; received {args.image_size}")
    if args.nearest is None and args.real is None:
        raise UserError("--real FOLDER is needed: the real images to compare with")
    if args.nearest is not None:
        if args.fake is not None:
            raise UserError("--nearest looks at a run's generator, not at --fake images")
        if not args.nearest.is_dir() or not find_image_files(args.nearest):
            raise UserError(f"--nearest {args.nearest}: no image files found (it should be the run's training images)")
        if args.show < 1:
            raise UserError(f"--show must be a positive integer; received {args.show}")
        if args.output is not None:
            cli.check_suffix(args.output, ".png")


def main() -> None:
    args = _parser().parse_args()
    _check(args)
    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    if args.fake is not None:
        _two_folders(args)
        return
    run = find_run(args.run)
    model_file = args.model or newest_generator(run)
    from gan.pictures.latent import load_generator

    generator = load_generator(model_file)
    config = TrainConfig.load(run / "config.json")
    # A grey generator is judged against grey real images.
    size, channels = args.image_size or config.image_size, generator.output_shape[-1]
    if args.nearest is not None:
        _nearest(args, run, generator, size, channels)
    else:
        _score(args, run, model_file, generator, size, channels)


def _two_folders(args) -> None:
    from gan.evaluation.evaluator import Evaluator, format_metrics

    print(format_metrics(Evaluator(args.inception_weights, args.real, args.image_size).score_folder(args.fake)))


def _score(args, run: Path, model_file: Path, generator, size: int, channels: int) -> None:
    from gan.evaluation.evaluator import Evaluator, append_metrics, format_metrics

    evaluator = Evaluator(args.inception_weights, args.real, size, channels)
    result = evaluator.score_generator(generator, args.count or METRICS_COUNT, seed=args.seed)
    step = model_step(model_file)
    append_metrics(run, {"step": step, "generator": str(model_file), "real": str(args.real), **result})
    print(f"step {step}: {format_metrics(result)}")


def _nearest(args, run: Path, generator, size: int, channels: int) -> None:
    from gan.data.folders import load_image_folder
    from gan.evaluation.evaluator import Evaluator, generated_pixels, pixel_features
    from gan.evaluation.nearest import NEIGHBOURS, copy_report, nearest, nearest_picture
    from gan.pictures.grids import save_png

    evaluator = Evaluator(args.inception_weights, args.nearest, size, channels)
    fakes = generated_pixels(generator, args.count or NEAREST_COUNT, seed=args.seed)
    fake_features = pixel_features(fakes, evaluator.features)
    report = copy_report(fake_features, evaluator.real, evaluator.folder(args.real) if args.real else None)
    shown = min(args.show, len(fakes))
    indices, _ = nearest(fake_features[:shown], evaluator.real, NEIGHBOURS)
    output = cli.output_file(args.output or run / "nearest.png", ".png")
    save_png(nearest_picture(fakes[:shown], load_image_folder(args.nearest, size, channels).images, indices), output)
    print(f"{output}: {shown} fakes, each beside its {NEIGHBOURS} nearest training images (Inception features)")
    print(f"{len(fakes)} fakes, {len(evaluator.real)} training images: {report.summary()}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
