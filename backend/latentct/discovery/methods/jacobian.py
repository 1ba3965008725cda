"""Pullback-metric directions (Wang & Ponce 2021; Khrulkov et al. 2021's "DeepSpectral"): the eigenvectors of
M = E_z[J(z)^T J(z)], J the Jacobian of the generated image with respect to z.

v^T M v is the expected squared image change per unit shift along v, so the top eigenvectors are the directions
that change the image most, averaged over the prior; Wang & Ponce found this metric nearly the same across the
latent space, which is what makes its eigenvectors global axes. The columns of J come from forward differences
(one extra forward pass per latent dimension, batched) and J^T J is accumulated in float64.
The local variant is the same at a single z: the directions that change *this* image most.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from latentct.core.checks import check_range
from latentct.core.errors import InvalidInputError
from latentct.discovery.closed_form import ClosedFormResult, largest_component_positive


@dataclass
class JacobianConfig:
    samples: int = 256  # prior samples the metric is averaged over (Wang & Ponce: the metric varies little over z)
    batch_size: int = 8  # latents per batched jvp (memory: latent_dim x batch x pixels floats)
    seed: int = 0

    def check(self) -> JacobianConfig:
        check_range("jacobian samples", self.samples, 1, 100_000)
        check_range("jacobian batch size", self.batch_size, 1, 1024)
        return self


FD_STEP = 1e-3  # latent units; J^T J within 1 % of forward-mode AD on both demo models (docs/discovery.md)


@torch.no_grad()
def jacobian_columns(generator: nn.Module, z: torch.Tensor, step: float = FD_STEP) -> torch.Tensor:
    """J e_i for every row of z [B, D] and every latent axis i, as forward differences: [B, D, pixels].

    (G(z + h e_i) - G(z)) / h costs D + 1 plain forward passes per latent, batched; forward-mode AD (torch.func.jvp)
    gives the same columns but ran about 6x slower on a CPU for these transposed convolutions.
    """
    batch, latent_dim = z.shape
    basis = torch.eye(latent_dim, dtype=z.dtype, device=z.device)
    moved = (z[:, None, :] + step * basis[None]).reshape(batch * latent_dim, latent_dim)
    images = generator(torch.cat([z, moved])).float().flatten(1)
    centre, shifted = images[:batch], images[batch:].reshape(batch, latent_dim, -1)
    return (shifted - centre[:, None, :]) / step


def jacobian_gram(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Sum over the rows of z [B, D] of J^T J (float64 [D, D]), J = d image / d z at that row."""
    columns = jacobian_columns(generator, z).double()  # [B, D, pixels]
    return torch.einsum("bip,bjp->ij", columns, columns)


def _eigen_directions(metric: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-`count` eigenvectors as unit rows (sign: largest component positive) and their eigenvalues, descending."""
    eigenvalues, vectors = torch.linalg.eigh(metric)
    order = torch.argsort(eigenvalues, descending=True)[:count]
    return largest_component_positive(vectors[:, order].T).float().contiguous(), eigenvalues[order].clamp(min=0)


def _check_count(count: int, latent_dim: int) -> None:
    if not 1 <= count <= latent_dim:
        raise InvalidInputError(f"-k {count} does not fit method 'jacobian': it gives 1..{latent_dim} directions")


@torch.no_grad()
def pullback_metric(generator: nn.Module, latent_dim: int, config: JacobianConfig, device: torch.device,
                    progress: bool = False) -> torch.Tensor:
    """E_z[J^T J] over `config.samples` seeded prior samples, float64 [D, D] on the CPU."""
    z = torch.randn(config.samples, latent_dim, generator=torch.Generator().manual_seed(config.seed))
    total = torch.zeros(latent_dim, latent_dim, dtype=torch.float64)
    starts = range(0, config.samples, config.batch_size)
    for start in tqdm(starts, desc="jacobian metric", disable=not progress, unit="batch"):
        total += jacobian_gram(generator, z[start : start + config.batch_size].to(device)).cpu()
    return total / config.samples


def jacobian_directions(generator: nn.Module, latent_dim: int, count: int, config: JacobianConfig,
                        device: torch.device | str = "cpu", progress: bool = False) -> ClosedFormResult:
    """The global pullback-metric directions of `generator` as a direction set."""
    config.check()
    _check_count(count, latent_dim)
    started = time.perf_counter()
    generator.eval()
    metric = pullback_metric(generator, latent_dim, config, torch.device(device), progress)
    directions, eigenvalues = _eigen_directions(metric, count)
    trace = float(torch.trace(metric))
    per_direction = [
        {"eigenvalue": round(float(v), 6), "metric_share": round(float(v) / max(trace, 1e-30), 5)} for v in eigenvalues
    ]
    # how global the metric is: the top directions' share of the trace (1 would be a metric of rank `count`)
    metrics = {"seconds": round(time.perf_counter() - started, 3), "metric_trace": round(trace, 6),
               "top_share": round(float(eigenvalues.sum()) / max(trace, 1e-30), 5)}
    params = {"samples": config.samples, "seed": config.seed, "layer": "image",
              "metric": "E_z[J^T J], J = d image / d z (pixels in [-1, 1])"}
    return ClosedFormResult(directions, per_direction, metrics, params)


REDUCED_PRECISION_FD_STEP = 3e-2  # a bf16/fp16 generator's rounding needs a larger step (J^T J within ~3 %)


@torch.no_grad()
def local_directions(generator: nn.Module, z: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The pullback-metric directions at one latent z [D]: (unit rows [count, D], eigenvalues [count]), both CPU.

    The eigenvalue is the squared image change (sum over pixels in [-1, 1] units) per unit shift along the direction.
    """
    latent_dim = z.shape[-1]
    _check_count(count, latent_dim)
    was_training = generator.training
    generator.eval()
    weight = next(generator.parameters())
    step = FD_STEP if weight.dtype == torch.float32 else REDUCED_PRECISION_FD_STEP
    try:
        latents = z.reshape(1, latent_dim).to(weight.device, weight.dtype)
        columns = jacobian_columns(generator, latents, step).double()
        metric = torch.einsum("bip,bjp->ij", columns, columns).cpu()
    finally:
        generator.train(was_training)
    directions, eigenvalues = _eigen_directions(metric, count)
    return directions, eigenvalues.float()
