"""Quality of a generator, measured: Frechet distance to real test slices in the phantom probe's feature space and,
on phantom data, the distance between generated and real factor distributions as the probe estimates them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from latentct.artifacts.probe import Probe, load_probe
from latentct.core.errors import ArtifactError
from latentct.core.metrics import factor_distribution_distance, frechet_distance

QUALITY_SEED = 20220  # latents for quality samples: fixed, so two models are compared on the same draw


@torch.no_grad()
def generate(generator: nn.Module, count: int, latent_dim: int, seed: int = QUALITY_SEED, batch_size: int = 128) -> torch.Tensor:
    """`count` images from z ~ N(0, I) drawn on the CPU with `seed` (as the service does); [count, 1, H, W] on the CPU."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    z = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))
    images = [generator(z[i : i + batch_size].to(device)).float().cpu() for i in range(0, count, batch_size)]
    generator.train(was_training)
    return torch.cat(images)


def open_probe(probe_dir: str | Path | None, device: str | torch.device = "cpu") -> Probe | None:
    """The probe for quality metrics; None when explicitly switched off ("none") or when the default one is absent."""
    if probe_dir is not None and str(probe_dir).lower() == "none":
        return None
    try:
        return load_probe(Path(probe_dir) if probe_dir else None, device=device)
    except ArtifactError:
        if probe_dir:  # an explicitly named probe must load
            raise
        return None


def measure_quality(
    generated: torch.Tensor,
    real_test: torch.Tensor,
    probe: Probe,
    real_train: torch.Tensor | None = None,
    has_factors: bool = True,
) -> dict[str, Any]:
    """Metrics for model.json. `real_train`, when given, yields the floor: the distance between two real sets."""
    gen_features, test_features = probe.features(generated).numpy(), probe.features(real_test).numpy()
    result: dict[str, Any] = {
        "frechet_probe": round(frechet_distance(gen_features, test_features), 4),
        "quality_samples": {"generated": len(generated), "real_test": len(real_test)},
    }
    if real_train is not None and len(real_train) >= 2:
        result["frechet_probe_real_train_vs_test"] = round(frechet_distance(probe.features(real_train).numpy(), test_features), 4)
    if has_factors:
        gen_factors, real_factors = probe.predict(generated).numpy(), probe.predict(real_test).numpy()
        distance = factor_distribution_distance(gen_factors, real_factors, names=probe.factor_names)
        # does the model vary each factor as much as the data does? (1 = same spread, 0 = a constant)
        spread = gen_factors.std(axis=0) / np.maximum(real_factors.std(axis=0), 1e-12)
        result["factor_distance"] = {
            "mean": round(distance["mean"], 4),
            "per_factor": {k: round(v, 4) for k, v in distance["per_factor"].items()},
            "spread_ratio": {k: round(float(v), 3) for k, v in zip(probe.factor_names, spread, strict=True)},
            "method": "1-D Wasserstein distance per factor between probe estimates on generated and real test slices, "
            "divided by the real estimates' std; spread_ratio = std generated / std real",
        }
    probe_metrics = probe.meta.get("metrics", {})
    result["probe"] = {
        "checksum": probe.meta.get("checksum"),
        "test_r2": probe_metrics.get("test_r2"),
        "test_r2_mean": probe_metrics.get("test_r2_mean"),
    }
    return result


def evaluate_generator(
    generator: nn.Module,
    latent_dim: int,
    real_test: torch.Tensor,
    probe: Probe,
    samples: int,
    real_train: torch.Tensor | None = None,
    has_factors: bool = True,
) -> dict[str, Any]:
    """Generate `samples` images (fixed seed) and measure them against real test slices."""
    generated = generate(generator, samples, latent_dim)
    return measure_quality(generated, real_test, probe, real_train, has_factors)


def subset(images: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    if len(images) <= count:
        return images
    order = np.random.default_rng(seed).permutation(len(images))[:count]
    return images[np.sort(order)]


class QualityTracker:
    """Quality measured during a run: the real test features (and factor estimates) are computed once, then
    `measure` draws the same fixed latents through a generator each time, so successive records are comparable.

    With `samples` generated images the Frechet distance is biased upwards against the final card's (1000 samples),
    but it is the same bias at every step of a run, which is what choosing or stopping a run by quality needs.
    """

    def __init__(self, probe: Probe, real_test: torch.Tensor, latent_dim: int, samples: int, has_factors: bool,
                 real_train: torch.Tensor | None = None) -> None:
        self.probe = probe
        self.latent_dim, self.samples = latent_dim, samples
        self.test_features = probe.features(real_test).numpy()
        self.real_factors = probe.predict(real_test).numpy() if has_factors else None
        # the floor at the same sample size: `samples` real training slices against the same test slices
        self.floor = None if real_train is None else round(
            frechet_distance(probe.features(real_train[:samples]).numpy(), self.test_features), 3)

    def measure(self, generator: nn.Module, prefix: str = "") -> dict[str, Any]:
        """{prefix}frechet_probe and, on phantom data, {prefix}factor_distance_mean and per-factor distances."""
        generated = generate(generator, self.samples, self.latent_dim, seed=QUALITY_SEED + 1)
        record: dict[str, Any] = {
            f"{prefix}frechet_probe": round(frechet_distance(self.probe.features(generated).numpy(), self.test_features), 3)
        }
        if not prefix and self.floor is not None:
            record["frechet_probe_real_floor"] = self.floor
        if self.real_factors is not None:
            distance = factor_distribution_distance(self.probe.predict(generated).numpy(), self.real_factors,
                                                    names=self.probe.factor_names)
            record[f"{prefix}factor_distance_mean"] = round(distance["mean"], 4)
            if not prefix:
                record["factor_distance"] = {k: round(v, 4) for k, v in distance["per_factor"].items()}
        return record


# ---------------------------------------------------------------------------------------------------------------
# Memorisation: does the generator copy its training slices?


def _nearest_distances(queries: list[torch.Tensor], train: TrainingDataLike, embeds: list[Any], chunk: int = 2048
                       ) -> list[torch.Tensor]:
    """For every embedding space i (queries[i] [Q, E_i], already embedded by embeds[i]), each query's Euclidean
    distance to the nearest embedded training slice; the training split is streamed once, in chunks."""
    best = [torch.full((len(q),), float("inf"), dtype=torch.float64) for q in queries]
    prepared = [(q.double(), (q.double() ** 2).sum(dim=1, keepdim=True)) for q in queries]
    for start in range(0, len(train), chunk):
        images = train.images(list(range(start, min(start + chunk, len(train)))))
        for i, ((q, q2), embed) in enumerate(zip(prepared, embeds, strict=True)):
            t = embed(images).double()
            d2 = q2 + (t * t).sum(dim=1)[None, :] - 2.0 * q @ t.T
            best[i] = torch.minimum(best[i], d2.min(dim=1).values.clamp(min=0))
    return [b.sqrt() for b in best]


class TrainingDataLike(Protocol):
    def __len__(self) -> int: ...

    def images(self, indices: list[int]) -> torch.Tensor: ...


def _summary(distances: torch.Tensor) -> dict[str, float]:
    values = distances.numpy()
    return {"median": round(float(np.median(values)), 4), "p05": round(float(np.percentile(values, 5)), 4)}


def memorisation(generated: torch.Tensor, held_out: torch.Tensor, train: TrainingDataLike, probe: Probe) -> dict[str, Any]:
    """Distance of each generated slice to its nearest training slice, beside the same for held-out real slices
    (which the generator never saw), in probe features and in pixels (RMS difference in HU).

    A generator that copies sits closer to its training data than new real slices do: ratio (generated median /
    held-out median) well below 1, and many generated samples nearer than almost every held-out slice.
    """
    scale_hu = 1500.0  # one unit of [-1, 1] is 1500 HU (HU range -1000..2000)
    pixels = held_out[0].numel()

    def embed_features(images: torch.Tensor) -> torch.Tensor:
        return probe.features(images).cpu()

    def embed_pixels(images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) * (scale_hu / pixels**0.5)  # Euclidean distance = RMS difference in HU

    result: dict[str, Any] = {"generated": len(generated), "held_out": len(held_out), "train_slices": len(train)}
    spaces = {"probe_features": embed_features, "pixels_rms_hu": embed_pixels}
    queries = [embed(torch.cat([generated, held_out])) for embed in spaces.values()]
    nearest = _nearest_distances(queries, train, list(spaces.values()))
    for name, distances in zip(spaces, nearest, strict=True):
        gen, real = distances[: len(generated)], distances[len(generated) :]
        threshold = float(np.percentile(real.numpy(), 5))
        result[name] = {
            "generated_to_train": _summary(gen),
            "held_out_to_train": _summary(real),
            "ratio_of_medians": round(float(gen.median() / real.median().clamp(min=1e-12)), 4),
            "generated_closer_than_p05_held_out": round(float((gen < threshold).float().mean()), 4),
        }
    result["method"] = ("nearest training slice (Euclidean) of each generated and each held-out real slice; a copying "
                        "generator has ratio_of_medians well below 1 and far more than 5 % of its samples closer than "
                        "the 5th percentile of held-out slices")
    return result
