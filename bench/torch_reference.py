"""The recipe's networks and training step in plain PyTorch: the peer that the Keras
engines of bench/throughput.py are measured against.

    python bench/torch_reference.py                                 # 64x64x3, batch 64
    python bench/torch_reference.py --batch-size 256 --steps 200 --compile
    python bench/torch_reference.py --data ../shared/data/anime      # real images instead of noise

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
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    sys.exit("error: PyTorch is not installed; it is a benchmark-only dependency: pip install torch")

from bench.data_source import image_size  # noqa: E402
from bench.machine import cpu_name, load_average  # noqa: E402
from gan import cli  # noqa: E402
from gan.settings.recipe import (  # noqa: E402
    ADAM_BETA_1,
    BATCH_NORM_EPSILON,
    BATCH_NORM_MOMENTUM,
    DISCRIMINATOR_LEARNING_RATE,
    GENERATOR_LEARNING_RATE,
    LEAKY_SLOPE,
    block_filters,
)

LABEL_NOISE = 0.2
RANDOM_IMAGES = 1024
KERAS_PARAMETERS_64X3 = (3_616_771, 2_768_321)  # gan.training.networks' generator and discriminator at 64x64x3


class BatchNorm(nn.BatchNorm2d):
    """Keras' BatchNormalization as the recipe configures it, which can also normalise
    with the batch's statistics without updating the running ones (the generator step)."""

    def __init__(self, channels: int):
        # PyTorch's momentum weighs the new batch, Keras' the old average: at 0.5 they agree.
        super().__init__(channels, eps=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM)

    def forward(self, x: torch.Tensor, update_stats: bool = True) -> torch.Tensor:
        if update_stats or not self.training:
            return super().forward(x)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


def _activated(module: nn.Module, channels: int) -> list[nn.Module]:
    return [module, BatchNorm(channels), nn.LeakyReLU(LEAKY_SLOPE)]


def generator(latent_dim: int, image_size: int, channels: int) -> nn.Sequential:
    """gan.training.networks.get_gen_normal: noise (latent, 1, 1) -> image in [-1, 1]."""
    filters = block_filters(image_size)
    layers = _activated(nn.ConvTranspose2d(latent_dim, filters[0], 4, 1, 0), filters[0])
    for before, after in zip(filters, filters[1:]):
        layers += _activated(nn.ConvTranspose2d(before, after, 4, 2, 1), after)
    layers += _activated(nn.Conv2d(filters[-1], filters[-1], 3, 1, 1), filters[-1])
    layers += [nn.ConvTranspose2d(filters[-1], channels, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """gan.training.networks.get_disc_normal: image -> probability that it is real."""

    def __init__(self, image_size: int, channels: int):
        super().__init__()
        filters = list(reversed(block_filters(image_size)))
        layers = [nn.Conv2d(channels, filters[0], 4, 2, 1), nn.LeakyReLU(LEAKY_SLOPE)]
        for before, after in zip(filters, filters[1:]):
            layers += _activated(nn.Conv2d(before, after, 4, 2, 1), after)
        layers += [nn.Flatten(), nn.Linear(filters[-1] * 4 * 4, 1), nn.Sigmoid()]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, update_stats: bool = True) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, update_stats) if isinstance(layer, BatchNorm) else layer(x)
        return x


def keras_parameter_count(module: nn.Module) -> int:
    """Weights plus batch-norm running averages, which Keras counts as parameters."""
    averages = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in module.parameters()) + averages


class RecipeStep:
    """gan.training.step's training step on PyTorch modules; `__call__(real)` runs one step."""

    def __init__(self, args: argparse.Namespace, device: torch.device):
        self.batch_size, self.latent_dim, self.device = args.batch_size, args.latent_dim, device
        self.generator = generator(args.latent_dim, args.image_size, args.channels)
        self.discriminator = Discriminator(args.image_size, args.channels)
        self.parameters = (keras_parameter_count(self.generator), keras_parameter_count(self.discriminator))
        self.generator.to(device, memory_format=torch.channels_last)
        self.discriminator.to(device, memory_format=torch.channels_last)
        fused = device.type == "cuda"
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), GENERATOR_LEARNING_RATE, (ADAM_BETA_1, 0.999), fused=fused)
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), DISCRIMINATOR_LEARNING_RATE, (ADAM_BETA_1, 0.999), fused=fused)
        self.g_forward, self.d_forward = self.generator, self.discriminator
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
        if args.compile:
            self.g_forward, self.d_forward = torch.compile(self.generator), torch.compile(self.discriminator)

    def noise(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.latent_dim, 1, 1, device=self.device)

    def discriminator_update(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.d_optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            probabilities = self.d_forward(images)
        loss = F.binary_cross_entropy(probabilities.float(), labels)
        loss.backward()
        self.d_optimizer.step()
        return loss.detach()

    def generator_update(self, labels: torch.Tensor) -> torch.Tensor:
        """Batch statistics in the discriminator, its running averages untouched, and
        gradients for the generator's weights only (no work on the discriminator's)."""
        with self.autocast():
            probabilities = self.d_forward(self.g_forward(self.noise()), update_stats=False)
        loss = F.binary_cross_entropy(probabilities.float(), labels)
        weights = list(self.generator.parameters())
        for weight, gradient in zip(weights, torch.autograd.grad(loss, weights)):
            weight.grad = gradient
        self.g_optimizer.step()
        return loss.detach()

    def __call__(self, real: torch.Tensor) -> list[float]:
        self.generator.eval()
        with torch.no_grad(), self.autocast():
            fake = self.g_forward(self.noise())
        self.generator.train()
        shape = (self.batch_size, 1)
        real_labels = 1 - torch.rand(shape, device=self.device) * LABEL_NOISE
        fake_labels = torch.rand(shape, device=self.device) * LABEL_NOISE
        losses = [
            self.discriminator_update(real, real_labels),
            self.discriminator_update(fake, fake_labels),
            self.generator_update(real_labels),
        ]
        return torch.stack(losses).tolist()


def device_images(args: argparse.Namespace, device: torch.device) -> tuple[torch.Tensor, str]:
    """All images on the device in [-1, 1], NCHW channels_last, and what they are."""
    if args.data is None:
        shape = (RANDOM_IMAGES, args.channels, args.image_size, args.image_size)
        return torch.rand(shape, device=device) * 2 - 1, f"{RANDOM_IMAGES} random images"
    from gan.data.folders import load_image_folder

    pixels = torch.from_numpy(load_image_folder(args.data, args.image_size, args.channels).images)
    images = pixels.to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
    return images.contiguous(memory_format=torch.channels_last), f"{len(images)} images decoded from {args.data}"


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
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="[cuda if available, else cpu]")
    args = parser.parse_args()
    if min(args.batch_size, args.steps, args.latent_dim) <= 0 or args.warmup < 0:
        parser.error("--batch-size, --steps and --latent-dim must be positive, --warmup zero or positive")
    return args


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"CPU, {torch.get_num_threads()} threads"
    step = RecipeStep(args, device)
    images, source = device_images(args, device)
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
