"""Directions without training: SeFa (first-layer weights), GANSpace (PCA of activations) and two baselines.

Every function returns unit rows [K, latent_dim] plus what each direction scored in its own terms (eigenvalue,
explained variance), so sets from different methods are saved and compared the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from latentct.core.errors import InvalidInputError
from latentct.nets.dcgan import DCGANGenerator
from latentct.nets.vae import ResidualUp, VAEDecoder


@dataclass
class ClosedFormResult:
    directions: torch.Tensor  # (K, latent_dim), unit rows
    direction_metrics: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def largest_component_positive(directions: torch.Tensor) -> torch.Tensor:
    """Rows [K, D] with each row's arbitrary sign fixed so that its largest component is positive (reproducible)."""
    return directions * torch.sign(directions.gather(1, directions.abs().argmax(dim=1, keepdim=True)))


def _check_count(method: str, count: int, maximum: int, what: str) -> None:
    if not 1 <= count <= maximum:
        raise InvalidInputError(
            f"{method} gives at most {maximum} directions ({what}); K = {count} is not allowed, use 1..{maximum}"
        )


# ---------------------------------------------------------------------------------------------------------- SeFa


def _residual_up_latent_map(block: ResidualUp) -> torch.Tensor:
    """The linear part of the first ResidualUp fed a 1x1 latent map, as [latent, rest].

    The block upsamples z (1x1) to a constant 2x2 map for its skip conv: with padding 1, output pixel (i, j) sees all
    four input pixels through the 2x2 kernel taps that land inside the map (rows 1..2 for i = 0, rows 0..1 for i = 1;
    same for columns), so its weight is the sum of those taps. The main path's first conv sees the 1x1 map through
    its centre tap only. Both are exactly linear in z (up to bias); BatchNorm only rescales output channels, which the
    column normalisation of SeFa removes anyway. The later nonlinear part of the block is left out, as SeFa leaves out
    everything after the first layer.
    """
    skip = block.skip.weight.detach()  # (C, latent, 3, 3)
    taps = {0: slice(1, 3), 1: slice(0, 2)}
    skip_maps = [skip[:, :, taps[i], taps[j]].sum(dim=(2, 3)) for i in (0, 1) for j in (0, 1)]  # 4 x (C, latent)
    skip_map = torch.stack(skip_maps, dim=1).flatten(0, 1)  # (C * 4, latent), channel-major like the output map
    centre = block.conv1.weight.detach()[:, :, 1, 1]  # (mid, latent)
    return torch.cat([skip_map, centre], dim=0).T.contiguous()  # (latent, C * 4 + mid)


def first_layer_latent_map(generator: nn.Module) -> torch.Tensor:
    """The weight of the generator's first (linear) layer as [latent_dim, rest]: what SeFa factorises."""
    if isinstance(generator, DCGANGenerator):
        weight = generator.first_layer_weight.detach()  # (latent, C, 4, 4): z (1x1) -> 4x4 map, linear
        return weight.flatten(1)
    if isinstance(generator, VAEDecoder):
        first = generator.blocks[0]
        assert isinstance(first, ResidualUp)
        return _residual_up_latent_map(first)
    raise InvalidInputError(f"SeFa knows the first layer of DCGANGenerator and VAEDecoder, not {type(generator).__name__}")


def sefa_from_weight(weight: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shen & Zhou's closed form: top-K eigenvectors of W W^T, W [latent, rest] with unit-norm columns.

    Returns (directions [K, latent] sorted by eigenvalue, largest first; eigenvalues [K]).
    """
    w = weight.detach().to(torch.float64)
    w = w / w.norm(dim=0, keepdim=True).clamp(min=1e-12)  # every output unit counts equally
    eigenvalues, eigenvectors = torch.linalg.eigh(w @ w.T)  # ascending
    order = torch.argsort(eigenvalues, descending=True)[:count]
    directions = eigenvectors[:, order].T  # (K, latent)
    return largest_component_positive(directions).float(), eigenvalues[order].float()


def sefa(generator: nn.Module, latent_dim: int, count: int) -> ClosedFormResult:
    _check_count("sefa", count, latent_dim, "one per eigenvector of the latent_dim x latent_dim matrix")
    started = time.perf_counter()
    weight = first_layer_latent_map(generator)
    directions, eigenvalues = sefa_from_weight(weight, count)
    seconds = time.perf_counter() - started
    total = float(weight.shape[1])  # trace of W W^T with unit columns: the eigenvalues sum to the column count
    layer = (
        "first ConvTranspose" if isinstance(generator, DCGANGenerator) else "first ResidualUp (skip conv taps + conv1 centre tap)"
    )
    return ClosedFormResult(
        directions,
        [{"eigenvalue": round(float(v), 5), "eigenvalue_share": round(float(v) / total, 5)} for v in eigenvalues],
        {"seconds": round(seconds, 4), "weight_shape": list(weight.shape)},
        {"layer": layer},
    )


# ------------------------------------------------------------------------------------------------------ GANSpace


IMAGE_LAYER = 0  # `--ganspace-block 0`: the generated image itself, average-pooled to IMAGE_FEATURE_PX
IMAGE_FEATURE_PX = 32


def image_features(generator: nn.Module, size: int = IMAGE_FEATURE_PX) -> Callable[[torch.Tensor], torch.Tensor]:
    """z -> the generated image average-pooled to about `size` px, flattened: PCA of what a reader sees, whatever the
    generator's blocks are (the pooling keeps the covariance small: 1024 features at 128 px)."""

    def features(z: torch.Tensor) -> torch.Tensor:
        images = generator(z)
        return F.avg_pool2d(images, max(1, images.shape[-1] // size)).flatten(1)

    return features


def activation_after_block(generator: nn.Module, block: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """z -> the activation after the nonlinearity ending block `block` (1-based), flattened to [B, features].

    DCGANGenerator: block b is (ConvTranspose, BatchNorm, ReLU) number b; VAEDecoder: ResidualUp number b, which ends
    in a leaky ReLU. Block 1 sits right after the first linear layer, where PCA would only repeat SeFa. Block 0
    (IMAGE_LAYER) is the generated image (`image_features`).
    """
    if block == IMAGE_LAYER:
        return image_features(generator)
    if isinstance(generator, DCGANGenerator):
        available = (len(generator.net) - 2) // 3
        layers = generator.net[: 3 * block]
    elif isinstance(generator, VAEDecoder):
        available = len(generator.blocks)
        layers = generator.blocks[:block]
    else:
        raise InvalidInputError(f"GANSpace knows the blocks of DCGANGenerator and VAEDecoder, not {type(generator).__name__}")
    if not 1 <= block <= available:
        raise InvalidInputError(
            f"GANSpace layer block {block} does not exist; this generator has blocks 1..{available}, or 0 for the image"
        )

    def features(z: torch.Tensor) -> torch.Tensor:
        return layers(z[:, :, None, None]).flatten(1)  # (B, C * h * w)

    return features


EXACT_PCA_LIMIT = 4096


def principal_components(activations: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """PCA of [N, F] rows: (coordinates [N, K] of the top-K components, their variances [K], total variance).

    Eigen-decomposes the N x N Gram matrix when there are fewer samples than features, else the F x F covariance;
    both are exact and deterministic. Only when both exceed EXACT_PCA_LIMIT (ICA's 8192 samples of the demo GAN's
    16384 block-2 activations) does it use seeded randomised subspace iteration (Halko et al. 2011; 8 power
    iterations, K + 16 probes): there its top-16 subspace matched the exact one to cosine 1.0000, in 38 s instead of
    160 s on a 2-core CPU.
    """
    x = activations.to(torch.float64)
    x = x - x.mean(dim=0, keepdim=True)
    n = x.shape[0]
    total = float((x * x).sum() / (n - 1))
    if min(n, x.shape[1]) > EXACT_PCA_LIMIT:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            u, singular, _ = torch.svd_lowrank(x, q=min(count + 16, n, x.shape[1]), niter=8)
        return u[:, :count] * singular[:count], singular[:count] ** 2 / (n - 1), total
    if n <= x.shape[1]:
        eigenvalues, vectors = torch.linalg.eigh(x @ x.T)  # (N,), (N, N); coordinates = U * sqrt(lambda)
        order = torch.argsort(eigenvalues, descending=True)[:count]
        coordinates = vectors[:, order] * eigenvalues[order].clamp(min=0).sqrt()
    else:
        eigenvalues, axes = torch.linalg.eigh(x.T @ x)
        order = torch.argsort(eigenvalues, descending=True)[:count]
        coordinates = x @ axes[:, order]
    return coordinates, eigenvalues[order] / (n - 1), total


def ganspace_from_features(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    latent_dim: int,
    count: int,
    n_samples: int = 2048,
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Härkönen et al.: PCA of features(z) over z ~ N(0, I), each component regressed back onto z (least squares).

    Returns (directions [K, latent] unit rows, explained variance ratio [K]).
    """
    activations, z = sample_features(feature_fn, latent_dim, n_samples, seed, batch_size, device, progress,
                                     "ganspace activations")
    coordinates, variances, total = principal_components(activations, count)
    return latent_moves(coordinates, z), (variances / total).float()


def sample_features(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    latent_dim: int,
    n_samples: int,
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "activations",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [N, F] float32, z [N, latent] float32) for N seeded prior samples, both on the CPU."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, latent_dim, generator=rng)  # CPU so the same seed gives the same set anywhere
    chunks = []
    with torch.no_grad():
        for start in tqdm(range(0, n_samples, batch_size), desc=desc, disable=not progress):
            chunks.append(feature_fn(z[start : start + batch_size].to(device)).float().cpu())
    return torch.cat(chunks), z


def latent_moves(coordinates: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Unit latent directions [K, latent] that go with each column of `coordinates` [N, K] (least squares of z on
    them), each signed so that its largest component is positive."""
    latents = z.to(torch.float64) - z.to(torch.float64).mean(dim=0, keepdim=True)
    # z ~ coordinates @ B: row k of B is the latent move that goes with one unit of coordinate k
    regression = torch.linalg.lstsq(coordinates.to(torch.float64), latents).solution  # (K, latent)
    return largest_component_positive(F.normalize(regression, dim=1)).float()


def ganspace(
    generator: nn.Module,
    latent_dim: int,
    count: int,
    block: int = 2,
    n_samples: int = 2048,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> ClosedFormResult:
    _check_count("ganspace", count, min(n_samples - 1, 10_000), f"at most n_samples - 1 = {n_samples - 1}")
    started = time.perf_counter()
    generator.eval()
    directions, explained = ganspace_from_features(
        activation_after_block(generator, block), latent_dim, count, n_samples, seed, device=device, progress=progress
    )
    return ClosedFormResult(
        directions,
        [{"explained_variance": round(float(v), 5)} for v in explained],
        {"seconds": round(time.perf_counter() - started, 3), "explained_variance_total": round(float(explained.sum()), 5)},
        {"block": block, "n_samples": n_samples, "seed": seed, "layer": layer_name(block)},
    )


def layer_name(block: int) -> str:
    if block == IMAGE_LAYER:
        return f"the generated image, average-pooled to {IMAGE_FEATURE_PX} px"
    return f"after the nonlinearity of block {block}"


# ----------------------------------------------------------------------------------------------------- baselines


def random_orthonormal(latent_dim: int, count: int, seed: int = 0) -> torch.Tensor:
    """K orthonormal rows: Q of the QR decomposition of a seeded Gaussian matrix (CPU, so seeds agree everywhere)."""
    _check_count("random", count, latent_dim, "orthonormal rows in a latent_dim space")
    gaussian = torch.randn(latent_dim, latent_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r))  # makes Q uniformly (Haar) distributed and unique
    return q.T[:count].float().contiguous()


def coordinate_axes(latent_dim: int, count: int) -> torch.Tensor:
    _check_count("axes", count, latent_dim, "one per latent coordinate")
    return torch.eye(latent_dim)[:count].contiguous()


def baseline(method: str, latent_dim: int, count: int, seed: int = 0) -> ClosedFormResult:
    if method == "random":
        return ClosedFormResult(random_orthonormal(latent_dim, count, seed), [{} for _ in range(count)], {}, {"seed": seed})
    if method == "axes":
        return ClosedFormResult(coordinate_axes(latent_dim, count), [{"axis": k} for k in range(count)], {}, {})
    raise InvalidInputError(f"baseline method {method!r} is unknown; allowed: ['axes', 'random']")
