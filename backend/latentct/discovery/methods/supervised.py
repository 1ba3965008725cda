"""A supervised reference (InterFaceGAN-style, Shen et al. 2020): for every factor the probe reads, the linear
direction in z along which the probe's estimate of that factor grows, made orthogonal to the other factors'.

The probe's factor estimates on prior samples are regressed on z by least squares; the regression weights w_f are
the factor's gradient in latent space, and R^2 says how much of the factor is linearly present at all. Each w_f is
then projected onto the orthogonal complement of the other factors' weights (a conditional edit: moving along it
leaves the other factors' linear estimates unchanged) and normalised. A factor this set cannot move is one the
model's latent space does not hold linearly: that is the model's gap, not the discovery method's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from latentct.core.checks import check_range
from latentct.core.errors import InvalidInputError
from latentct.discovery.closed_form import ClosedFormResult


@dataclass
class SupervisedConfig:
    samples: int = 4096
    batch_size: int = 128
    seed: int = 0

    def check(self) -> SupervisedConfig:
        check_range("supervised samples", self.samples, 64, 1_000_000)
        if self.batch_size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {self.batch_size}")
        return self


@torch.no_grad()
def factor_estimates(generator: nn.Module, probe: Any, z: torch.Tensor, batch_size: int, device: torch.device,
                     progress: bool = False) -> torch.Tensor:
    """The probe's factor estimates [N, F] (float64, CPU) on the images of the latents z [N, D]."""
    out = []
    for start in tqdm(range(0, len(z), batch_size), desc="supervised: probe on samples", disable=not progress):
        images = generator(z[start : start + batch_size].to(device)).float()
        out.append(probe.predict(images).double().cpu())
    return torch.cat(out)


def conditional_directions(weights: torch.Tensor) -> torch.Tensor:
    """weights [F, D] (one gradient per factor) -> unit rows [F, D], row f orthogonal to every other w_g.

    When the other factors span the whole latent space (F - 1 >= D) there is no such direction; the plain
    normalised gradient is kept then.
    """
    rows = []
    for f in range(weights.shape[0]):
        others = torch.cat([weights[:f], weights[f + 1 :]])
        direction = weights[f]
        if 0 < others.shape[0] < weights.shape[1]:
            q, _ = torch.linalg.qr(others.T)  # [D, F - 1], orthonormal basis of the others' span
            direction = direction - q @ (q.T @ direction)
        rows.append(direction / direction.norm().clamp(min=1e-12))
    return torch.stack(rows)


def supervised_directions(generator: nn.Module, probe: Any, latent_dim: int, config: SupervisedConfig,
                          device: torch.device | str = "cpu", progress: bool = False) -> ClosedFormResult:
    """One direction per probe factor, in the probe's factor order."""
    config.check()
    started = time.perf_counter()
    generator.eval()
    z = torch.randn(config.samples, latent_dim, generator=torch.Generator().manual_seed(config.seed), dtype=torch.float32)
    targets = factor_estimates(generator, probe, z, config.batch_size, torch.device(device), progress)
    z64 = z.double() - z.double().mean(dim=0)
    centred = targets - targets.mean(dim=0)
    weights = torch.linalg.lstsq(z64, centred).solution.T  # [F, D]: d(estimate of f) / dz
    residual = centred - z64 @ weights.T
    r2 = 1.0 - residual.pow(2).sum(dim=0) / centred.pow(2).sum(dim=0).clamp(min=1e-30)
    directions = conditional_directions(weights)
    names = list(probe.factor_names)
    per_direction = []
    for f, name in enumerate(names):
        # the factor's change per unit shift along its direction: w_f . d_f (> 0 by construction)
        per_unit = float(weights[f] @ directions[f])
        gradient_kept = per_unit / max(float(weights[f].norm()), 1e-30)  # 1: the others did not get in the way
        per_direction.append({"factor": name, "linear_r2": round(float(r2[f]), 4),
                              "factor_change_per_unit": round(per_unit, 6), "gradient_kept": round(gradient_kept, 4)})
    metrics = {"seconds": round(time.perf_counter() - started, 3), "samples": config.samples,
               "linear_r2": {name: round(float(v), 4) for name, v in zip(names, r2, strict=True)}}
    params = {"samples": config.samples, "seed": config.seed, "factors": names, "reference": True,
              "method_note": "least squares of the probe's factor estimates on z; each direction orthogonal to the "
                             "other factors' gradients (InterFaceGAN's conditional manipulation)"}
    return ClosedFormResult(directions.float().contiguous(), per_direction, metrics, params)
