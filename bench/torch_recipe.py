"""The recipe's networks and training step in plain PyTorch, for bench/torch_reference.py
(which explains what is kept equal to the Keras step). Imports PyTorch: load it only
after the command line has been read, so that `--help` works without it."""

from __future__ import annotations

import argparse
import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from gan.settings.recipe import (
    ADAM_BETA_1,
    BATCH_NORM_EPSILON,
    BATCH_NORM_MOMENTUM,
    DISCRIMINATOR_LEARNING_RATE,
    GENERATOR_LEARNING_RATE,
    LABEL_NOISE,
    LEAKY_SLOPE,
    block_filters,
)


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


def device_images(args: argparse.Namespace, device: torch.device, random_images: int) -> tuple[torch.Tensor, str]:
    """All images on the device in [-1, 1], NCHW channels_last, and what they are."""
    if args.data is None:
        shape = (random_images, args.channels, args.image_size, args.image_size)
        return torch.rand(shape, device=device) * 2 - 1, f"{random_images} random images"
    from gan.data.folders import load_image_folder

    pixels = torch.from_numpy(load_image_folder(args.data, args.image_size, args.channels).images)
    images = pixels.to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
    return images.contiguous(memory_format=torch.channels_last), f"{len(images)} images decoded from {args.data}"
