"""Training-time image transforms: the paper's small random affine, and the discriminator's decaying instance noise."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def affine_matrices(
    angles_deg: torch.Tensor, scales: torch.Tensor, shifts: torch.Tensor | None = None
) -> torch.Tensor:
    """[B] angles, [B] zoom factors and optional [B, 2] shifts (x, y in grid units, 2 = the image width) -> [B, 2, 3]
    matrices for `affine_grid` (sampling grid = output -> input).

    A zoom of s > 1 enlarges the content, so the grid samples a region 1/s as large; a shift of +t moves the content
    by -t (the grid samples t further on).
    """
    radians = angles_deg * (math.pi / 180.0)
    cos, sin = torch.cos(radians) / scales, torch.sin(radians) / scales
    tx, ty = (torch.zeros_like(cos), torch.zeros_like(cos)) if shifts is None else (shifts[:, 0], shifts[:, 1])
    return torch.stack([torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    max_rotation_deg: float = 1.0,
    scale_range: tuple[float, float] = (1.0, 1.1),
    max_translate_px: float = 0.0,
) -> torch.Tensor:
    """images [B, C, H, W] in [-1, 1] -> the same shape, each rotated by U(-max, max) degrees, zoomed by U(scale_range)
    and, when max_translate_px > 0, shifted by U(-max, max) px in x and y.

    Bilinear sampling keeps values inside the input's range; pixels that come from outside the image are filled
    with the background (-1, air), as a scanner's field of view would be. Differentiable in `images`, so the same
    transform can be applied to a generator's output (DiffAugment, Zhao et al. 2020).
    """
    batch = images.shape[0]
    params = torch.rand(batch, 2, generator=generator, device=generator.device).to(images.device, torch.float32)
    angles = (params[:, 0] * 2 - 1) * max_rotation_deg
    scales = scale_range[0] + params[:, 1] * (scale_range[1] - scale_range[0])
    shifts = None
    if max_translate_px > 0:  # drawn only then, so the paper recipe's random stream is unchanged
        unit = torch.rand(batch, 2, generator=generator, device=generator.device).to(images.device, torch.float32)
        shifts = (unit * 2 - 1) * (2.0 * max_translate_px / images.shape[-1])
    theta = affine_matrices(angles, scales, shifts).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # sample (x + 1) so that zero padding means -1 (air) in the image's units
    shifted = F.grid_sample(images + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return shifted - 1.0


def instance_noise_sigma(progress_epochs: float, epochs: int, sigma0: float = 0.1, until: float = 0.5) -> float:
    """Std of the Gaussian noise added to every discriminator input: sigma0 at the start, linearly to 0 after
    `until * epochs` epochs, then off. `progress_epochs` counts fractional epochs done (step / steps_per_epoch).

    This is the schedule the paper intended; its reference code switched the noise off from the first epoch.
    """
    horizon = until * epochs
    if horizon <= 0 or sigma0 <= 0:
        return 0.0
    return float(sigma0 * max(0.0, 1.0 - progress_epochs / horizon))


def add_instance_noise(images: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    if sigma <= 0:
        return images
    noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=torch.float32)
    return images + sigma * noise.to(images.device, images.dtype)
