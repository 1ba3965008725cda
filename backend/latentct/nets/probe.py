"""The phantom probe: a small CT CNN whose features define our Frechet distance and whose head regresses phantom factors."""

from __future__ import annotations

import torch
from torch import nn

from latentct.nets._checks import check_image_size, check_positive, log2


class PhantomProbe(nn.Module):
    """image [B, 1, H, W] in [-1, 1] -> standardised factor predictions [B, n_factors].

    Stride-2 conv blocks halve the image down to 4x4 (channels width, 2w, 4w, 8w, 8w, ...); the 4x4 map is flattened,
    not pooled, so positions (offsets, z level) stay readable. `features` is the hidden layer before its activation:
    no ReLU zeros, so its covariance stays well conditioned for a Frechet distance.
    """

    def __init__(self, image_size: int = 128, width: int = 16, n_factors: int = 8, feature_dim: int = 128) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size, minimum=8)
        self.width = check_positive("width", width)
        self.n_factors = check_positive("n_factors", n_factors)
        self.feature_dim = check_positive("feature_dim", feature_dim)
        layers: list[nn.Module] = []
        channels_in, channels = 1, width
        for i in range(log2(image_size) - 2):  # image_size -> 4x4
            channels = width * min(2**i, 8)
            layers += [
                nn.Conv2d(channels_in, channels, 3, 2, 1, bias=False),
                nn.BatchNorm2d(channels),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels_in = channels
        self.trunk = nn.Sequential(*layers)  # (B, C, 4, 4)
        self.embed = nn.Linear(channels * 16, feature_dim)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(feature_dim, n_factors))

    def _check(self, image: torch.Tensor) -> None:
        if image.dim() != 4 or image.shape[1] != 1 or tuple(image.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"image must have shape [B, 1, {self.image_size}, {self.image_size}], got {list(image.shape)}")

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """image [B, 1, H, W] -> [B, feature_dim]: the space in which Frechet distances are measured."""
        self._check(image)
        return self.embed(self.trunk(image).flatten(1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image))  # (B, n_factors), standardised units
