"""Reconstructors for Voynov-Babenko discovery: see an image pair, predict which direction moved it and how far.

Input: the pair (G(z), G(z + eps * d_k)) stacked as 2 channels, [B, 2, H, W] in [-1, 1].
Output: (logits [B, K] over the directions, shift [B] in latent units).
"""

from __future__ import annotations

import torch
from torch import nn

from latentct.nets._checks import check_image_size, check_positive


def _check_pair(pair: torch.Tensor, image_size: int) -> None:
    if pair.dim() != 4 or pair.shape[1] != 2 or pair.shape[-2:] != (image_size, image_size):
        raise ValueError(f"image pair must have shape [B, 2, {image_size}, {image_size}], got {list(pair.shape)}")


def _head(features: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


class LeNetReconstructor(nn.Module):
    """The paper's LeNet: conv5x5 2 -> 6, pool, 6 -> 16, pool, 16 -> 120, global mean, heads 120 -> 84 -> K and -> 1.

    Convolutions are padded ("same") so that the same net runs on 16 px test images and 128 px CT slices;
    BatchNorm after each convolution, as in Voynov's code.
    """

    def __init__(self, count: int, image_size: int = 128) -> None:
        super().__init__()
        self.count = check_positive("count", count, maximum=100_000)
        self.image_size = check_image_size(image_size)

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 5, padding=2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(2, 6),
            nn.MaxPool2d(2),  # (B, 6, H/2, W/2)
            *block(6, 16),
            nn.MaxPool2d(2),  # (B, 16, H/4, W/4)
            *block(16, 120),  # (B, 120, H/4, W/4)
        )
        self.logits_head = _head(120, 84, count)
        self.shift_head = _head(120, 84, 1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_pair(pair, self.image_size)
        h = self.features(pair).mean(dim=(2, 3))  # (B, 120)
        return self.logits_head(h), self.shift_head(h).squeeze(1)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34's block)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.relu(h + self.downsample(x))


class ResNet18Reconstructor(nn.Module):
    """ResNet-18 from scratch: 2-channel stem, BasicBlocks [2, 2, 2, 2] at width w, 2w, 4w, 8w, heads for K and shift.

    At 64 px and above the stem is ImageNet's (7x7 stride 2, max-pool); below, a 3x3 stride-1 stem keeps enough
    resolution for the four stages. `width` 64 is the standard network; tests use a few channels.
    """

    def __init__(self, count: int, image_size: int = 128, width: int = 64) -> None:
        super().__init__()
        self.count = check_positive("count", count, maximum=100_000)
        self.image_size = check_image_size(image_size)
        self.width = check_positive("width", width)
        if image_size >= 64:
            stem: list[nn.Module] = [
                nn.Conv2d(2, width, 7, 2, 3, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            ]
        else:
            stem = [nn.Conv2d(2, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        stages: list[nn.Module] = []
        channels = width
        for i, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stride = 1 if i == 0 else 2
            stages += [BasicBlock(channels, out, stride), BasicBlock(out, out, 1)]
            channels = out
        self.features = nn.Sequential(*stem, *stages)  # (B, 8w, H/32, W/32) at 128 px
        self.logits_head = nn.Linear(channels, count)
        self.shift_head = nn.Linear(channels, 1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_pair(pair, self.image_size)
        h = self.features(pair).mean(dim=(2, 3))  # (B, 8w)
        return self.logits_head(h), self.shift_head(h).squeeze(1)


RECONSTRUCTORS: dict[str, type[nn.Module]] = {"lenet": LeNetReconstructor, "resnet18": ResNet18Reconstructor}


def build_reconstructor(name: str, count: int, image_size: int) -> nn.Module:
    """Build a reconstructor by name; ValueError naming an unknown name."""
    if name not in RECONSTRUCTORS:
        raise ValueError(f"reconstructor must be one of {sorted(RECONSTRUCTORS)}, got {name!r}")
    return RECONSTRUCTORS[name](count, image_size)
