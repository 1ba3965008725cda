"""The paper's DCGAN: a ConvTranspose generator 1x1 -> 4 -> ... -> image_size and its mirrored discriminator."""

from __future__ import annotations

import torch
from torch import nn

from latentct.nets._checks import check_image_size, check_positive, log2


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al.'s init, as in the paper: conv weights N(0, 0.02), BatchNorm gamma N(1, 0.02), beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _as_latent_map(z: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """Accept z as [B, latent_dim] or [B, latent_dim, 1, 1]; return [B, latent_dim, 1, 1]."""
    if z.dim() == 2 and z.shape[1] == latent_dim:
        return z[:, :, None, None]
    if z.dim() == 4 and tuple(z.shape[1:]) == (latent_dim, 1, 1):
        return z
    raise ValueError(f"latent must have shape [B, {latent_dim}] (or [B, {latent_dim}, 1, 1]), got {list(z.shape)}")


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] -> image [B, 1, image_size, image_size] in [-1, 1].

    Channels: ngf * 2^(n-1) at 4x4, halving at every doubling of resolution, ngf at image_size / 2, then one
    channel (n = log2(image_size) - 2; at 128 px this is the paper's 16w -> 8w -> 4w -> 2w -> w -> 1).
    """

    def __init__(self, latent_dim: int = 32, ngf: int = 128, image_size: int = 128) -> None:
        super().__init__()
        self.latent_dim = check_positive("latent_dim", latent_dim)
        self.ngf = check_positive("ngf", ngf)
        self.image_size = check_image_size(image_size)
        doublings = log2(image_size) - 2  # 4x4 -> image_size
        channels = ngf * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 1, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    @property
    def first_layer_weight(self) -> torch.Tensor:
        """The first ConvTranspose weight [latent_dim, C, 4, 4]: what SeFa factorises."""
        first = self.net[0]
        assert isinstance(first, nn.ConvTranspose2d)
        return first.weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(_as_latent_map(z, self.latent_dim))  # (B, 1, H, W)


D_NORMS = ("batch", "spectral")


class DCGANDiscriminator(nn.Module):
    """image [B, 1, H, W] -> logit [B]; mirrors the generator with LeakyReLU 0.2 and no BatchNorm on the input.

    d_norm "batch" is the paper's (BatchNorm after every inner convolution); "spectral" drops BatchNorm and divides
    every convolution's weight by its largest singular value (Miyato et al. 2018), which keeps D Lipschitz.
    """

    def __init__(self, ndf: int = 128, image_size: int = 128, d_norm: str = "batch") -> None:
        super().__init__()
        self.ndf = check_positive("ndf", ndf)
        self.image_size = check_image_size(image_size)
        if d_norm not in D_NORMS:
            raise ValueError(f"d_norm must be one of {list(D_NORMS)}, got {d_norm!r}")
        self.d_norm = d_norm
        halvings = log2(image_size) - 2  # image_size -> 4x4
        channels = ndf
        layers: list[nn.Module] = [nn.Conv2d(1, channels, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(halvings - 1):
            layers.append(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False))
            if d_norm == "batch":
                layers.append(nn.BatchNorm2d(channels * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels *= 2
        self.features = nn.Sequential(*layers)  # (B, ndf * 2^(n-1), 4, 4)
        self.head = nn.Conv2d(channels, 1, 4, 1, 0, bias=False)
        init_dcgan_weights(self)
        if d_norm == "spectral":
            for module in [*self.features, self.head]:
                if isinstance(module, nn.Conv2d):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 1 or image.shape[-1] != self.image_size:
            raise ValueError(f"image must have shape [B, 1, {self.image_size}, {self.image_size}], got {list(image.shape)}")
        return self.head(self.features(image)).flatten()  # (B,)
