"""Stage 1, measure: render the traversals of a direction set (and of random orthonormal sets) from fixed seeds, and
record what the probe and the discriminator see along them and at their ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from scipy import stats
from torch import nn
from tqdm import tqdm

from latentct.artifacts import LoadedModel
from latentct.core.hu import unit_to_hu
from latentct.core.latents import latents_from_seeds
from latentct.core.metrics import frechet_distance
from latentct.discovery.closed_form import random_orthonormal
from latentct.discovery.common import generate
from latentct.discovery.evaluate.config import BASELINE_SEED, EvaluationConfig


class FactorProbe(Protocol):
    """What evaluation needs from a probe (latentct.artifacts.probe.Probe has it)."""

    @property
    def factor_names(self) -> list[str]: ...

    def predict(self, images: torch.Tensor) -> torch.Tensor: ...

    def features(self, images: torch.Tensor) -> torch.Tensor: ...


@dataclass
class Traversals:
    """What the probe (and discriminator) saw along every direction of a set."""

    predictions: torch.Tensor  # (K, S, T, F) factor units
    change_hu: torch.Tensor  # (K,) mean |HU(end) - HU(centre)| per pixel
    disc_centre: torch.Tensor | None  # (K,) discriminator probability at shift 0
    disc_end: torch.Tensor | None  # (K,) at shift +-extent


@torch.no_grad()
def discriminator_probability(
    discriminator: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    out = [
        torch.sigmoid(discriminator(images[i : i + batch_size].to(device))).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def measure_traversals(
    generator: nn.Module,
    probe: FactorProbe,
    directions: torch.Tensor,
    latents: torch.Tensor,
    shifts: torch.Tensor,
    device: torch.device,
    batch_size: int = 64,
    discriminator: nn.Module | None = None,
    hu_range: tuple[float, float] = (-1000.0, 2000.0),
    desc: str = "traversals",
) -> Traversals:
    """Render z_s + t * d_k for every direction k, seed s and shift t; predict the factors of every frame."""
    seeds, steps = latents.shape[0], shifts.shape[0]
    centre, ends = int(torch.argmin(shifts.abs())), [0, steps - 1]
    predictions, change_hu, disc_centre, disc_end = [], [], [], []
    for direction in tqdm(directions, desc=desc, leave=False):
        frames = (latents[:, None, :] + shifts[None, :, None] * direction[None, None, :]).reshape(seeds * steps, -1)
        images = generate(generator, frames, device, batch_size)  # (S * T, 1, H, W)
        predictions.append(probe.predict(images).reshape(seeds, steps, -1))
        images = images.reshape(seeds, steps, *images.shape[1:])
        hu = unit_to_hu(images[:, ends], hu_range) - unit_to_hu(images[:, centre : centre + 1], hu_range)
        change_hu.append(hu.abs().mean())
        if discriminator is not None:
            disc_centre.append(discriminator_probability(discriminator, images[:, centre], device, batch_size).mean())
            disc_end.append(discriminator_probability(discriminator, images[:, ends].flatten(0, 1), device, batch_size).mean())
    return Traversals(
        torch.stack(predictions),
        torch.stack(change_hu),
        torch.stack(disc_centre) if disc_centre else None,
        torch.stack(disc_end) if disc_end else None,
    )


def per_seed_statistics(predictions: torch.Tensor, shifts: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(Spearman of shift vs factor [K, S, F], least-squares slope [K, S, F] in factor units) for every seed."""
    pred = predictions.double().numpy()  # (K, S, T, F)
    t = shifts.double().numpy()
    ranks = stats.rankdata(pred, axis=2)  # ties share their average rank
    ranks -= ranks.mean(axis=2, keepdims=True)
    shift_ranks = stats.rankdata(t) - (len(t) + 1) / 2
    numerator = np.einsum("ksaf,a->ksf", ranks, shift_ranks)
    denominator = np.sqrt((ranks**2).sum(axis=2) * (shift_ranks**2).sum())
    # a factor that does not change at all along a traversal has no rank order: count it as 0, not NaN
    rho = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 1e-12)
    centred_t = t - t.mean()
    slope = np.einsum("ksaf,a->ksf", pred - pred.mean(axis=2, keepdims=True), centred_t) / (centred_t**2).sum()
    return rho, slope


def alignment_statistics(predictions: torch.Tensor, shifts: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alignment [K, F]: per-seed Spearman averaged over seeds, its standard error [K, F], mean slope [K, F])."""
    rho, slope = per_seed_statistics(predictions, shifts)
    seeds = rho.shape[1]
    standard_error = rho.std(axis=1, ddof=1) / np.sqrt(seeds) if seeds > 1 else np.zeros_like(rho[:, 0])
    return rho.mean(axis=1), standard_error, slope.mean(axis=1)


@dataclass
class RealismReference:
    """Prior samples and centre frames shared by a set and its baseline: the same latents for both."""

    reference_features: torch.Tensor  # (N, feat)
    centre_features: torch.Tensor  # (N, feat)
    centre_latents: torch.Tensor  # (N, D)
    factor_std: np.ndarray  # (F,)
    fd_centre: float
    disc_reference: float | None
    disc_centre: float | None


def realism_reference(
    generator: nn.Module,
    probe: FactorProbe,
    latent_dim: int,
    config: EvaluationConfig,
    device: torch.device,
    discriminator: nn.Module | None = None,
) -> RealismReference:
    n = config.realism_samples
    rng = torch.Generator().manual_seed(BASELINE_SEED + 1)
    reference_latents = torch.randn(n, latent_dim, generator=rng)
    centre_latents = torch.randn(n, latent_dim, generator=rng)
    reference_images = generate(generator, reference_latents, device, config.batch_size)
    centre_images = generate(generator, centre_latents, device, config.batch_size)
    reference_features, centre_features = probe.features(reference_images), probe.features(centre_images)
    factor_std = probe.predict(reference_images).double().numpy().std(axis=0)
    disc_reference = disc_centre = None
    if discriminator is not None:
        disc_reference = float(discriminator_probability(discriminator, reference_images, device, config.batch_size).mean())
        disc_centre = float(discriminator_probability(discriminator, centre_images, device, config.batch_size).mean())
    fd_centre = frechet_distance(centre_features, reference_features)
    return RealismReference(
        reference_features, centre_features, centre_latents, factor_std, fd_centre, disc_reference, disc_centre
    )


def realism_at_ends(
    generator: nn.Module,
    probe: FactorProbe,
    directions: torch.Tensor,
    reference: RealismReference,
    config: EvaluationConfig,
    device: torch.device,
    discriminator: nn.Module | None = None,
) -> dict[str, Any]:
    """Each centre latent moved by +-extent along one direction of the set (drawn with a fixed seed)."""
    n = reference.centre_latents.shape[0]
    rng = torch.Generator().manual_seed(BASELINE_SEED + 2)
    index = torch.randint(0, directions.shape[0], (n,), generator=rng)
    sign = torch.where(torch.rand(n, generator=rng) < 0.5, -1.0, 1.0)
    images = generate(
        generator, reference.centre_latents + (sign * config.extent)[:, None] * directions[index], device, config.batch_size
    )
    result: dict[str, Any] = {"fd_end": round(frechet_distance(probe.features(images), reference.reference_features), 4)}
    if discriminator is not None:
        result["disc_prob_end"] = round(
            float(discriminator_probability(discriminator, images, device, config.batch_size).mean()), 4
        )
    return result


@dataclass
class Bench:
    """What every set of one model is measured with: the same generator, probe, seeds, shifts and prior samples."""

    model: LoadedModel
    probe: FactorProbe
    config: EvaluationConfig
    device: torch.device
    shifts: torch.Tensor  # (T,)
    latents: torch.Tensor  # (S, D), from the config's seeds
    reference: RealismReference
    factor_names: list[str]  # the probe's, in its order


def prepare_bench(model: LoadedModel, probe: FactorProbe, config: EvaluationConfig, device: torch.device) -> Bench:
    """Seeds, shifts and the realism reference, drawn once so that every set and the baseline share them."""
    latents = latents_from_seeds(model.latent_dim, list(range(config.first_seed, config.first_seed + config.seeds)))
    reference = realism_reference(model.fused_generator, probe, model.latent_dim, config, device, model.discriminator)
    return Bench(model, probe, config, device, config.shifts(), latents, reference, list(probe.factor_names))


@dataclass
class Measurement:
    """One set's traversals as statistics, and the realism of frames at their ends."""

    traversals: Traversals
    alignment: np.ndarray  # (K, F) Spearman averaged over seeds
    alignment_se: np.ndarray  # (K, F)
    slope: np.ndarray  # (K, F) factor units per unit shift
    realism_end: dict[str, Any]  # fd_end (and disc_prob_end for a GAN)

    @property
    def count(self) -> int:
        return int(self.alignment.shape[0])


def measure_set(bench: Bench, directions: torch.Tensor, desc: str, ends: torch.Tensor | None = None) -> Measurement:
    """Traverse every direction from the bench's seeds; realism at the ends of `ends` (default: the directions)."""
    model, config = bench.model, bench.config
    traversals = measure_traversals(
        model.fused_generator,
        bench.probe,
        directions,
        bench.latents,
        bench.shifts,
        bench.device,
        config.batch_size,
        model.discriminator,
        model.hu_range,
        desc=desc,
    )
    alignment, alignment_se, slope = alignment_statistics(traversals.predictions, bench.shifts)
    realism_end = realism_at_ends(
        model.fused_generator,
        bench.probe,
        directions if ends is None else ends,
        bench.reference,
        config,
        bench.device,
        model.discriminator,
    )
    return Measurement(traversals, alignment, alignment_se, slope, realism_end)


def measure_random_sets(bench: Bench, count: int) -> Measurement:
    """`random_sets` random orthonormal sets of `count` directions (seeds BASELINE_SEED + r) measured as one pool;
    realism at the ends of the first set, the one shown beside each evaluated set."""
    sets = bench.config.random_sets
    pool = torch.cat([random_orthonormal(bench.model.latent_dim, count, seed=BASELINE_SEED + r) for r in range(sets)])
    return measure_set(bench, pool, desc=f"random baseline ({sets} sets)", ends=pool[:count])
