"""The paper's ResNet VAE: residual down blocks to 4x4, a 32-d Gaussian latent, residual up blocks back to the image."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from latentct.nets._checks import check_image_size, check_positive, log2

# The reference used functional rrelu outside training mode, i.e. a fixed leaky slope of (1/8 + 1/3) / 2.
LEAKY_SLOPE = (1 / 8 + 1 / 3) / 2


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)


def _halve(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def _double(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class _ResidualResample(nn.Module):
    """skip = conv(resample(x)); main = conv, BN, lrelu, resample, conv, BN; out = lrelu(main + skip)."""

    def __init__(self, cin: int, cout: int, resample: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        mid = max(cout // 2, 1)
        self.resample = resample
        self.skip = _conv3x3(cin, cout)
        self.conv1, self.bn1 = _conv3x3(cin, mid), nn.BatchNorm2d(mid)
        self.conv2, self.bn2 = _conv3x3(mid, cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(self.resample(x))
        h = F.leaky_relu(self.bn1(self.conv1(x)), LEAKY_SLOPE)
        h = self.bn2(self.conv2(self.resample(h)))
        return F.leaky_relu(h + skip, LEAKY_SLOPE)


class ResidualDown(_ResidualResample):
    """Halve the resolution (average pooling)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, _halve)


class ResidualUp(_ResidualResample):
    """Double the resolution (nearest-neighbour upsampling): the mirror of ResidualDown."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, _double)


def encoder_channels(base_channels: int, image_size: int) -> list[int]:
    """Paper at base 64, 128 px: 64, 128, 256, 512, 512 (to 4x4). Width doubles per block, capped at 8x base."""
    blocks = log2(image_size) - 2
    return [base_channels * min(2**i, 8) for i in range(blocks)]


def decoder_channels(base_channels: int, image_size: int) -> list[int]:
    """Paper at base 64, 128 px: 1024 (2x2), 512, 512, 256, 128, 64, 32 (128x128): one up block per doubling from 1x1."""
    paper = [16, 8, 8, 4, 2, 1, 0.5]
    blocks = log2(image_size)
    factors = [16.0] * max(blocks - len(paper), 0) + paper[-blocks:]
    return [max(int(base_channels * f), 1) for f in factors]


class VAEEncoder(nn.Module):
    """image [B, 1, H, W] -> (mean, log-variance), each [B, latent_dim]."""

    def __init__(self, latent_dim: int = 32, base_channels: int = 64, image_size: int = 128) -> None:
        super().__init__()
        self.latent_dim = check_positive("latent_dim", latent_dim)
        self.base_channels = check_positive("base_channels", base_channels)
        self.image_size = check_image_size(image_size)
        widths = [1, *encoder_channels(base_channels, image_size)]
        self.blocks = nn.Sequential(*[ResidualDown(a, b) for a, b in itertools.pairwise(widths)])
        self.mean = nn.Conv2d(widths[-1], latent_dim, 4, 4)  # (B, latent, 1, 1)
        self.log_var = nn.Conv2d(widths[-1], latent_dim, 4, 4)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.dim() != 4 or image.shape[1] != 1 or image.shape[-1] != self.image_size:
            raise ValueError(f"image must have shape [B, 1, {self.image_size}, {self.image_size}], got {list(image.shape)}")
        h = self.blocks(image)  # (B, C, 4, 4)
        return self.mean(h).flatten(1), self.log_var(h).flatten(1)


class VAEDecoder(nn.Module):
    """z [B, latent_dim] -> image [B, 1, H, W] in [-1, 1]; fed z ~ N(0, I) it is the VAE's generator."""

    def __init__(self, latent_dim: int = 32, base_channels: int = 64, image_size: int = 128) -> None:
        super().__init__()
        self.latent_dim = check_positive("latent_dim", latent_dim)
        self.base_channels = check_positive("base_channels", base_channels)
        self.image_size = check_image_size(image_size)
        widths = [latent_dim, *decoder_channels(base_channels, image_size)]
        self.blocks = nn.Sequential(*[ResidualUp(a, b) for a, b in itertools.pairwise(widths)])
        self.out = _conv3x3(widths[-1], 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 4:
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latent must have shape [B, {self.latent_dim}], got {list(z.shape)}")
        return torch.tanh(self.out(self.blocks(z[:, :, None, None])))  # (B, 1, H, W)


class ResNetVAE(nn.Module):
    """Encoder and decoder together, for training; `encode`, `decode` and `reconstruct` are separate steps."""

    def __init__(self, latent_dim: int = 32, base_channels: int = 64, image_size: int = 128) -> None:
        super().__init__()
        self.encoder = VAEEncoder(latent_dim, base_channels, image_size)
        self.decoder = VAEDecoder(latent_dim, base_channels, image_size)
        self.latent_dim = latent_dim

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(image)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruct(self, image: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: the deterministic reconstruction."""
        return self.decoder(self.encoder(image)[0])

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder(image)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)  # reparameterisation
        return self.decoder(z), mean, log_var


def vae_loss(
    reconstruction: torch.Tensor, image: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, beta: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paper's loss: log(MSE) + beta * KL (KL summed over latent dims, averaged over the batch).

    Returns (loss, log_mse, kl).
    """
    log_mse = torch.log(F.mse_loss(reconstruction, image) + 1e-12)
    kl = (-0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(dim=1)).mean()
    return log_mse + beta * kl, log_mse, kl


def count_macs(module: nn.Module, sample: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of `sample` (conv and linear layers), by forward hooks."""
    total = 0

    def hook(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1] * layer.in_channels // layer.groups
            total += output.numel() * k
        elif isinstance(layer, nn.ConvTranspose2d):
            k = layer.kernel_size[0] * layer.kernel_size[1] * layer.out_channels // layer.groups
            total += inputs[0].numel() * k
        elif isinstance(layer, nn.Linear):
            total += output.numel() * layer.in_features

    layers = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, layers)]
    try:
        with torch.no_grad():
            module(sample)
    finally:
        for h in handles:
            h.remove()
    return total // max(sample.shape[0], 1)
