"""The recipe's networks and training step in plain PyTorch: the peer that the Keras
engines of bench/throughput.py are measured against.

    python bench/torch_reference.py                                 # 64x64x3, batch 64
    python bench/torch_reference.py --batch-size 256 --steps 200 --compile
    python bench/torch_reference.py --data anime/                  # real images instead of noise

PyTorch is a benchmark-only dependency, deliberately not in requirements.txt (the
project trains with Keras): `pip install torch` to run this.

Same layers as gan.training.networks (transposed convolutions with batch norm, momentum 0.5 and
epsilon 1e-3 as in Keras, LeakyReLU 0.2, tanh; strided convolutions, sigmoid), same
parameter count, same step as gan.training.step: fakes from the generator in inference mode,
noisy labels, a discriminator update on the reals then one on the fakes, then the
generator update through the discriminator in training mode with batch statistics and
neither its weights nor its running averages touched (only the generator's gradients
are computed). Eager, channels_last; on CUDA TF32 and fused Adam. --compile runs both
networks through torch.compile. --bf16 runs the networks under torch.autocast in
bfloat16, the peer of the Keras step in mixed_bfloat16 (what `--mixed-precision auto`
picks on Ampere and later GPUs); the losses stay float32 in both. The images (random, or --data decoded once) are held
on the device and each batch is gathered there: no data loader. Each step's losses are
read back, as the Keras benchmarks do.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data_source import image_size  # noqa: E402
from bench.machine import cpu_name, load_average  # noqa: E402
from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402

RANDOM_IMAGES = 1024  # bench.torch_recipe's, without --data
KERAS_PARAMETERS_64X3 = (3_616_771, 2_768_321)  # gan.training.networks' generator and discriminator at 64x64x3


def parse_args() -> argparse.Namespace:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help=f"folder of images, decoded once onto the device [{RANDOM_IMAGES} random images]")
    parser.add_argument("--image-size", type=image_size, default=64, help="[64]")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3), help="[3]")
    parser.add_argument("--batch-size", type=int, default=64, help="[64]")
    parser.add_argument("--latent-dim", type=int, default=100, help="[100]")
    parser.add_argument("--steps", type=int, default=20, help="timed steps [20]")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first [3]")
    parser.add_argument("--compile", action="store_true", help="torch.compile both networks")
    parser.add_argument("--bf16", action="store_true", help="run the networks under torch.autocast in bfloat16")
    parser.add_argument("--device", help="[cuda if available, else cpu]")
    args = parser.parse_args()
    if min(args.batch_size, args.steps, args.latent_dim) <= 0 or args.warmup < 0:
        parser.error("--batch-size, --steps and --latent-dim must be positive, --warmup zero or positive")
    return args


def main() -> None:
    args = parse_args()
    try:
        import torch

        from bench.torch_recipe import RecipeStep, device_images
    except ImportError:
        raise UserError("PyTorch is not installed; it is a benchmark-only dependency: pip install torch") from None
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"CPU, {torch.get_num_threads()} threads"
    step = RecipeStep(args, device)
    images, source = device_images(args, device, RANDOM_IMAGES)
    g_count, d_count = step.parameters
    same = (g_count, d_count) == KERAS_PARAMETERS_64X3 if (args.image_size, args.channels, args.latent_dim) == (64, 3, 100) else None
    print(f"machine: {cpu_name()}, load {load_average()}; {device_name}; PyTorch {torch.__version__}")
    print(f"{args.image_size}x{args.image_size}x{args.channels}, batch {args.batch_size}; parameters (with batch-norm "
          f"averages, as Keras counts): G {g_count:,}, D {d_count:,}" + ("" if same is None else f" (equal to Keras': {same})"))
    print(f"engine: {'torch.compile' if args.compile else 'eager'}, channels_last"
          + (", autocast bfloat16" if args.bf16 else "")
          + (", TF32, fused Adam" if device.type == "cuda" else "")
          + f"; feed: {source} held on the device, batches gathered there; {args.warmup} warm-up + {args.steps} timed steps")

    def one_step() -> list[float]:
        chosen = torch.randint(len(images), (args.batch_size,), device=device)
        return step(images[chosen].contiguous(memory_format=torch.channels_last))

    for _ in range(args.warmup):
        one_step()
    start = time.perf_counter()
    for _ in range(args.steps):
        one_step()
    seconds = (time.perf_counter() - start) / args.steps
    print(f"{args.batch_size / seconds:.1f} img/s, {seconds:.4f} s/step")


if __name__ == "__main__":
    sys.exit(cli.run(main))
