"""Make images with a trained generator: `python generate.py outputs/anime-1 -n 64`.

SOURCE is a generator .keras file, a run folder (its newest generator save) or a folder
of runs (the newest run). Modes: N samples as a grid (default), --interpolate STEPS
between two seeds as a strip, or --arithmetic: G(z1), G(z2) and G(z1 + z2) in a row.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gan import cli
from gan.errors import UserError
from gan.pictures.grids import make_grid, save_png, to_uint8
from gan.pictures.latent import MIN_TRUNCATION
from gan.runs.folder import generator_source, run_of_model


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="generator .keras file, run folder or folder of runs")
    parser.add_argument("-n", "--count", type=int, default=64, help="images to sample [64]")
    parser.add_argument("--seed", type=int, default=0, help="names the noise: the same seed, the same images [0]")
    parser.add_argument("--truncation", type=float, help="redraw noise values beyond ±this (e.g. 1.5) [off]")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--interpolate", type=int, metavar="STEPS", help="a strip of STEPS images from --seed to --to-seed")
    mode.add_argument("--arithmetic", action="store_true", help="G(z1), G(z2), G(z1 + z2) for --seed and --to-seed")
    parser.add_argument("--to-seed", type=int, help="the second seed [--seed + 1]")
    parser.add_argument("--linear", action="store_true", help="interpolate on a straight line, not spherically")
    parser.add_argument("--individual", type=Path, metavar="DIR", help="also write each image as DIR/NNNN.png")
    parser.add_argument("-o", "--output", type=Path, help="grid PNG [generated.png, interpolation.png or arithmetic.png beside the model's run]")
    args = parser.parse_args()
    if args.count < 1:
        raise UserError(f"-n must be a positive integer; received {args.count}")
    if args.interpolate is not None and args.interpolate < 2:
        raise UserError(f"--interpolate needs at least 2 steps; received {args.interpolate}")
    if args.truncation is not None and not args.truncation >= MIN_TRUNCATION:
        raise UserError(f"--truncation must be at least {MIN_TRUNCATION}; received {args.truncation}")
    for name in ("seed", "to_seed"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UserError(f"--{name.replace('_', '-')} must be zero or positive; received {value}")
    model_file = generator_source(args.source)

    from gan.pictures.latent import generate, interpolate, load_generator, seed_noise
    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    generator = load_generator(model_file)
    noise_shape = tuple(generator.input_shape[1:])
    other_seed = args.seed + 1 if args.to_seed is None else args.to_seed
    first, second = (seed_noise(s, 1, noise_shape, args.truncation)[0] for s in (args.seed, other_seed))
    if args.interpolate is not None:
        noise, name, columns = interpolate(first, second, args.interpolate, spherical=not args.linear), "interpolation", args.interpolate
    elif args.arithmetic:
        noise, name, columns = np.stack([first, second, first + second]), "arithmetic", 3
    else:
        noise, name, columns = seed_noise(args.seed, args.count, noise_shape, args.truncation), "generated", None
    images = to_uint8(generate(generator, noise))

    output = cli.output_file(args.output or (run_of_model(model_file) or model_file.parent) / f"{name}.png", ".png")
    save_png(make_grid(images, columns), output)
    if args.individual:
        args.individual.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            save_png(image, args.individual / f"{index:04d}.png")
    print(f"{output}: {len(images)} images from {model_file}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
