"""Measure a direction set against the phantom's ground truth: which factor each direction moves, how cleanly,
how far, and what it costs in realism, always beside a random orthonormal baseline measured on the same seeds.

Definitions (docs/discovery.md has the prose):
- alignment[k, f]: Spearman rank correlation between the shift along direction k and the probe's estimate of factor f,
  computed per seed over the traversal frames and averaged over seeds (a direction that moves f the same way for
  every seed scores +-1; one that does not move f scores about 0).
- slope[k, f]: least-squares change of factor f per unit shift (factor units), averaged over seeds.
- effect[k, f]: |slope| * (2 * extent) / sd_f, the change over the whole traversal in population standard deviations
  of f (sd_f from the probe's estimates on prior samples).
- specificity[k, f] = effect[k, f] / ||effect[k, :]||: the cosine between what direction k changes (in SDs) and
  factor f alone; its square is f's share of the direction's squared standardised change.
- share_k = max_f |alignment[k, f]| / sum_f |alignment[k, f]|; disentanglement = mean_k share_k; effect_share and
  effect_disentanglement the same with effect in place of |alignment| (1: every direction moves one factor only;
  1/F: every direction moves everything alike). On the demo models |alignment| saturates (almost every direction
  moves almost every factor monotonically), so the effect-based measures are the discriminating ones.
- alignment_score = mean over factors of the best |alignment| any direction reaches; matched_score = the same with
  each factor given a different direction (Hungarian assignment); effect_score = mean over factors of the largest
  effect any direction reaches.
- A factor is tracked by a direction when |alignment| >= 0.7 and effect >= 0.5 (fixed before looking at results);
  tracked cleanly when, in addition, specificity >= 1/sqrt(2) (added after the first demo results showed that random
  directions "track" most factors by the first rule alone). Per factor the reported direction is the clean one with
  the largest effect, else the cleanest one that tracks it, else the most monotone one. specificity_score = mean over
  factors of that direction's specificity (0 for an untracked factor); clean_effect_score = mean over factors of the
  effect of that direction when it tracks cleanly (0 otherwise): how far one slider moves the factor, cleanly.
- random distribution: one random set is a single draw, and set scores vary from draw to draw (best-of-K scores
  especially). So `random_sets` independent random orthonormal sets form a pool of P = random_sets * K directions;
  RANDOM_DRAWS sets of K are drawn from it without replacement and scored. Each score of the set is then given as a
  z value against these draws, (set - mean) / sd, and as the share of random draws it exceeds. The sd is the draws'
  sd times sqrt((P + K) / (P - K)): for a score that averages over directions, that is the sd of (a fresh random
  set's score - the pool's mean), undoing the finite pool's shrinkage and counting the uncertainty of the mean; for
  the best-of-K scores it is an approximation. Below MIN_RANDOM_SD (the scores' rounding) z is not given. A set
  beats random clearly when its headline score has z >= 3 and exceeds every random draw. The headline is
  effect_disentanglement: how much one factor dominates the change along each direction, measured by the size of
  the change (the alignment-based share counts a tiny monotone side effect as much as the main one, and alignment
  saturates on the demo models).
- realism: Frechet distance in probe feature space from prior samples, of the centre frames and of the end frames
  (shift +-extent along a random direction of the set); and, for a GAN, the discriminator's mean probability there.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from scipy import optimize, stats
from torch import nn
from tqdm import tqdm

from latentct.artifacts import load_direction_set, update_direction_set_meta
from latentct.artifacts.directions import save_direction_set_evaluation
from latentct.artifacts.probe import load_probe
from latentct.data.hu import unit_to_hu
from latentct.discovery.closed_form import random_orthonormal
from latentct.discovery.common import generate, latents_from_seeds, load_for_discovery, resolve_device
from latentct.errors import InvalidInputError
from latentct.metrics import frechet_distance

# The factors the paper reported finding (by eye); named as the phantom records them.
PAPER_FACTORS = ("rotation_deg", "breast_size", "fat_thickness", "y_offset", "z_position")
TRACK_MIN_ALIGNMENT = 0.7
TRACK_MIN_EFFECT = 0.5
CLEAN_MIN_SPECIFICITY = 0.5**0.5  # more than half of the direction's squared standardised change is this factor
BASELINE_SEED = 1_234_567
RANDOM_DRAWS = 1000
HEADLINE_SCORE = "effect_disentanglement"
CLEAR_MIN_Z = 3.0
MIN_RANDOM_SD = 1e-4  # scores are rounded to 4 decimals: a smaller spread is rounding, not a scale


class FactorProbe(Protocol):
    """What evaluation needs from a probe (latentct.artifacts.probe.Probe has it)."""

    @property
    def factor_names(self) -> list[str]: ...

    def predict(self, images: torch.Tensor) -> torch.Tensor: ...

    def features(self, images: torch.Tensor) -> torch.Tensor: ...


@dataclass
class EvaluationConfig:
    seeds: int = 32
    first_seed: int = 0
    extent: float = 6.0
    steps: int = 9
    realism_samples: int = 256
    batch_size: int = 64
    random_sets: int = 4

    def check(self) -> EvaluationConfig:
        if not 2 <= self.seeds <= 4096:
            raise InvalidInputError(f"seeds must be in 2..4096, got {self.seeds}")
        if not 3 <= self.steps <= 64:
            raise InvalidInputError(f"steps must be in 3..64, got {self.steps}")
        if not 0 < self.extent <= 30:
            raise InvalidInputError(f"extent must be in (0, 30], got {self.extent}")
        if not 16 <= self.realism_samples <= 100_000:
            raise InvalidInputError(f"realism_samples must be in 16..100000, got {self.realism_samples}")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 2 <= self.random_sets <= 64:
            raise InvalidInputError(f"random_sets must be in 2..64 (a distribution needs two), got {self.random_sets}")
        return self

    def shifts(self) -> torch.Tensor:
        return torch.linspace(-self.extent, self.extent, self.steps)  # (T,), ascending


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


def _passes(alignment: float, effect: float) -> bool:
    return abs(alignment) >= TRACK_MIN_ALIGNMENT and effect >= TRACK_MIN_EFFECT


def summarise_alignment(
    alignment: np.ndarray,
    slope: np.ndarray,
    factor_std: np.ndarray,
    extent: float,
    factor_names: list[str],
    alignment_se: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per factor its direction, per direction its share of change, and the set's scores (see the module doc)."""
    magnitude = np.abs(alignment)  # (K, F)
    effect = np.abs(slope) * (2 * extent) / np.maximum(factor_std, 1e-12)  # (K, F), SDs over the traversal
    specificity = effect / np.maximum(np.linalg.norm(effect, axis=1, keepdims=True), 1e-12)  # (K, F), rows unit
    per_factor: dict[str, Any] = {}
    for f, name in enumerate(factor_names):
        candidates = [k for k in range(len(alignment)) if _passes(alignment[k, f], effect[k, f])]
        clean = [k for k in candidates if specificity[k, f] >= CLEAN_MIN_SPECIFICITY]
        if clean:  # the clean direction that moves f furthest
            k = max(clean, key=lambda c: effect[c, f])
        elif candidates:  # else the cleanest one that tracks f
            k = max(candidates, key=lambda c: specificity[c, f])
        else:  # else the most monotone one
            k = int(magnitude[:, f].argmax())
        per_factor[name] = {
            "direction": k,
            "alignment": round(float(alignment[k, f]), 4),
            "alignment_se": None if alignment_se is None else round(float(alignment_se[k, f]), 4),
            "slope_per_unit_shift": round(float(slope[k, f]), 5),
            "effect_sd": round(float(effect[k, f]), 4),
            "specificity": round(float(specificity[k, f]), 4),
            "tracked": bool(candidates),
            "tracked_cleanly": bool(clean),
            "clean_effect_sd": round(float(effect[k, f]), 4) if clean else 0.0,
            "max_abs_alignment": round(float(magnitude[:, f].max()), 4),
            "max_effect_sd": round(float(effect[:, f].max()), 4),
        }
    share = magnitude.max(axis=1) / np.maximum(magnitude.sum(axis=1), 1e-12)
    effect_share = effect.max(axis=1) / np.maximum(effect.sum(axis=1), 1e-12)
    rows, cols = optimize.linear_sum_assignment(-magnitude)  # each factor its own direction
    matched = {factor_names[c]: int(r) for r, c in zip(rows, cols, strict=True)}
    paper = [name for name in factor_names if name in PAPER_FACTORS]
    chosen_specificity = [v["specificity"] if v["tracked"] else 0.0 for v in per_factor.values()]
    scores = {
        "alignment_score": round(float(magnitude.max(axis=0).mean()), 4),
        "matched_score": round(float(magnitude[rows, cols].sum() / len(factor_names)), 4),
        "disentanglement": round(float(share.mean()), 4),
        "effect_score": round(float(effect.max(axis=0).mean()), 4),
        "effect_disentanglement": round(float(effect_share.mean()), 4),
        "specificity_score": round(float(np.mean(chosen_specificity)), 4),
        "clean_effect_score": round(float(np.mean([v["clean_effect_sd"] for v in per_factor.values()])), 4),
        "factors_tracked": int(sum(v["tracked"] for v in per_factor.values())),
        "factors_tracked_cleanly": int(sum(v["tracked_cleanly"] for v in per_factor.values())),
        "paper_factors_tracked": int(sum(per_factor[name]["tracked"] for name in paper)),
        "paper_factors_tracked_cleanly": int(sum(per_factor[name]["tracked_cleanly"] for name in paper)),
        "paper_specificity_score": round(float(np.mean([chosen_specificity[factor_names.index(n)] for n in paper])), 4)
        if paper
        else None,
        "paper_clean_effect_score": round(float(np.mean([per_factor[n]["clean_effect_sd"] for n in paper])), 4)
        if paper
        else None,
    }
    return {
        "alignment": np.round(alignment, 4).tolist(),
        "slope": np.round(slope, 5).tolist(),
        "effect_sd": np.round(effect, 4).tolist(),
        "specificity": np.round(specificity, 4).tolist(),
        "share": np.round(share, 4).tolist(),
        "effect_share": np.round(effect_share, 4).tolist(),
        "per_factor": per_factor,
        "matched_directions": matched,
        "scores": scores,
    }


def random_score_distribution(
    alignment: np.ndarray,
    slope: np.ndarray,
    factor_std: np.ndarray,
    extent: float,
    factor_names: list[str],
    count: int,
    draws: int = RANDOM_DRAWS,
    seed: int = BASELINE_SEED,
) -> dict[str, np.ndarray]:
    """Scores of `draws` random sets of `count` directions drawn without replacement from a pool of random directions
    (alignment and slope [P, F] of the pool): score name -> [draws] values."""
    pool = alignment.shape[0]
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {}
    for _ in range(draws):
        rows = rng.choice(pool, size=count, replace=False)
        scores = summarise_alignment(alignment[rows], slope[rows], factor_std, extent, factor_names)["scores"]
        for name, value in scores.items():
            if value is not None:
                values.setdefault(name, []).append(float(value))
    return {name: np.asarray(v) for name, v in values.items()}


def compare_with_random(value: float | None, draws: np.ndarray, pool: int, count: int) -> dict[str, Any]:
    """Where a set's score lies among random sets' scores: mean, sd (finite pool corrected), z, share exceeded."""
    correction = np.sqrt((pool + count) / (pool - count)) if pool > count else 1.0
    mean = float(draws.mean())
    sd = float(draws.std(ddof=1)) * correction if len(draws) > 1 else 0.0
    out: dict[str, Any] = {"random_mean": round(mean, 4), "random_sd": round(sd, 4), "random_max": round(float(draws.max()), 4)}
    if value is None:
        return {**out, "z": None, "exceeds_random_share": None}
    z = None if sd < MIN_RANDOM_SD else round((value - mean) / sd, 2)  # random draws (almost) alike: no scale
    share = float(np.mean(draws < value) + 0.5 * np.mean(draws == value))
    return {**out, "z": z, "exceeds_random_share": round(share, 4)}


def verdict(comparison: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether the set beats random clearly on the headline score (see the module doc)."""
    row = comparison[HEADLINE_SCORE]
    clear = row["z"] is not None and row["z"] >= CLEAR_MIN_Z and row["set"] > row["random_max"]
    return {
        "score": HEADLINE_SCORE,
        "set": row["set"],
        "random_mean": row["random_mean"],
        "random_sd": row["random_sd"],
        "z": row["z"],
        "min_z": CLEAR_MIN_Z,
        "beats_random_clearly": bool(clear),
    }


def verdict_line(outcome: dict[str, Any]) -> str:
    z = "-" if outcome["z"] is None else f"{outcome['z']:.1f}"
    said = "beats random clearly" if outcome["beats_random_clearly"] else "not clearly above random"
    return (
        f"{outcome['score']} {outcome['set']:.3f} vs random {outcome['random_mean']:.3f} +- {outcome['random_sd']:.3f}"
        f" (z {z}): {said}"
    )


def direction_metrics(summary: dict[str, Any], traversals: Traversals, factor_names: list[str]) -> list[dict[str, Any]]:
    """What the API shows for each direction: the factor it changes most, how monotonically, how far, how cleanly."""
    alignment = np.asarray(summary["alignment"])
    effect = np.asarray(summary["effect_sd"])
    specificity = np.asarray(summary["specificity"])
    out = []
    for k in range(alignment.shape[0]):
        f = int(effect[k].argmax())
        clean = _passes(alignment[k, f], effect[k, f]) and specificity[k, f] >= CLEAN_MIN_SPECIFICITY
        metrics: dict[str, Any] = {
            "best_factor": factor_names[f],
            "best_factor_alignment": round(float(alignment[k, f]), 4),
            "best_factor_effect_sd": round(float(effect[k, f]), 4),
            "best_factor_specificity": round(float(specificity[k, f]), 4),
            "tracks": factor_names[f] if clean else None,
            "share": summary["share"][k],
            "effect_share": summary["effect_share"][k],
            "factor_alignment": {name: round(float(alignment[k, i]), 3) for i, name in enumerate(factor_names)},
            "factor_effect_sd": {name: round(float(effect[k, i]), 3) for i, name in enumerate(factor_names)},
            "change_hu": round(float(traversals.change_hu[k]), 2),
        }
        if traversals.disc_end is not None and traversals.disc_centre is not None:
            metrics["disc_prob_centre"] = round(float(traversals.disc_centre[k]), 4)
            metrics["disc_prob_end"] = round(float(traversals.disc_end[k]), 4)
        out.append(metrics)
    return out


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


def heatmap_png(factor_names: list[str], panels: list[tuple[str, dict[str, Any]]], title: str) -> bytes:
    """Per panel (a set, its baseline) two matrices, directions x factors: the alignment (Spearman, -1..1) on top and
    each factor's share of the direction's squared standardised change (specificity^2, 0..1) below; the direction
    reported for each factor is outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = max(len(p[1]["alignment"]) for p in panels)
    panel_width = max(3.4, 1.0 + 0.5 * len(factor_names))
    panel_height = 1.6 + 0.2 * rows
    fig, axes = plt.subplots(
        2, len(panels), figsize=(1.4 + panel_width * len(panels), 2 * panel_height + 1.0), squeeze=False, layout="constrained"
    )

    layers = [
        ("alignment", "RdBu_r", (-1.0, 1.0), "Spearman(shift, factor)"),
        ("specificity", "magma", (0.0, 1.0), "share of the change (specificity²)"),
    ]
    for row, (key, cmap, (lo, hi), bar_label) in enumerate(layers):
        image = None
        for col, (label, summary) in enumerate(panels):
            ax = axes[row][col]
            matrix = np.asarray(summary[key]) ** (2 if key == "specificity" else 1)
            image = ax.imshow(matrix, cmap=cmap, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
            ax.set_xticks(range(len(factor_names)), factor_names if row == 1 else [], rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(matrix.shape[0]), [str(k) for k in range(matrix.shape[0])], fontsize=6)
            for f, name in enumerate(factor_names):
                entry = summary["per_factor"][name]
                colour = "lime" if entry["tracked_cleanly"] else ("black" if entry["tracked"] else "grey")
                ax.add_patch(Rectangle((f - 0.5, entry["direction"] - 0.5), 1, 1, fill=False, lw=1.5, ec=colour))
            if row == 0:
                sc = summary["scores"]
                ax.set_title(
                    f"{label}\nclean effect {sc['clean_effect_score']:.2f} SD, clean {sc['factors_tracked_cleanly']}/"
                    f"{len(factor_names)}\neffect {sc['effect_score']:.2f} SD, effect disent. {sc['effect_disentanglement']:.2f}",
                    fontsize=8,
                )
        axes[row][0].set_ylabel("direction")
        assert image is not None
        fig.colorbar(image, ax=axes[row].tolist(), shrink=0.9, label=bar_label)
    fig.suptitle(title + "\noutline: green tracked cleanly, black tracked, grey not tracked", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _round_list(values: np.ndarray | list[float]) -> list[float]:
    return [round(float(v), 5) for v in values]


def evaluate_sets(
    model_dir: Path | str,
    set_ids: list[str],
    config: EvaluationConfig,
    probe_dir: Path | str | None = None,
    device: str = "auto",
    probe: FactorProbe | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate direction sets of one model against one random baseline (same seeds); write each set's evaluation.

    Writes `directions/<set>.eval.json` and `.eval.png` and merges per-direction metrics into the set's json.
    """
    config.check()
    torch_device = resolve_device(device)
    model = load_for_discovery(model_dir, torch_device, with_discriminator=True)
    sets = [load_direction_set(model.path, set_id, model.manifest) for set_id in set_ids]  # fail before any work
    probe = probe if probe is not None else load_probe(probe_dir, torch_device)
    factor_names = list(probe.factor_names)
    probe_meta: dict[str, Any] = getattr(probe, "meta", None) or {}
    started = time.perf_counter()
    shifts = config.shifts()
    latents = latents_from_seeds(model.latent_dim, list(range(config.first_seed, config.first_seed + config.seeds)))
    reference = realism_reference(model.generator, probe, model.latent_dim, config, torch_device, model.discriminator)

    baseline_count = min(max(s.count for s in sets), model.latent_dim)
    pool_directions = torch.cat(
        [random_orthonormal(model.latent_dim, baseline_count, seed=BASELINE_SEED + r) for r in range(config.random_sets)]
    )
    pool_traversals = measure_traversals(
        model.generator,
        probe,
        pool_directions,
        latents,
        shifts,
        torch_device,
        config.batch_size,
        model.discriminator,
        model.hu_range,
        desc=f"random baseline ({config.random_sets} sets)",
    )
    pool_alignment, pool_se, pool_slope = alignment_statistics(pool_traversals.predictions, shifts)
    baseline_realism = realism_at_ends(
        model.generator, probe, pool_directions[:baseline_count], reference, config, torch_device, model.discriminator
    )
    distributions: dict[int, dict[str, np.ndarray]] = {}
    results = {}
    for direction_set in sets:
        traversals = measure_traversals(
            model.generator,
            probe,
            direction_set.directions,
            latents,
            shifts,
            torch_device,
            config.batch_size,
            model.discriminator,
            model.hu_range,
            desc=direction_set.id,
        )
        alignment, alignment_se, slope = alignment_statistics(traversals.predictions, shifts)
        summary = summarise_alignment(alignment, slope, reference.factor_std, config.extent, factor_names, alignment_se)
        k = min(direction_set.count, baseline_count)  # best-of-K grows with K: compare with the same K
        base_summary = summarise_alignment(
            pool_alignment[:k], pool_slope[:k], reference.factor_std, config.extent, factor_names, pool_se[:k]
        )  # the first random set, shown beside the set in the heatmap
        if k not in distributions:
            distributions[k] = random_score_distribution(
                pool_alignment, pool_slope, reference.factor_std, config.extent, factor_names, k
            )
        pool_size = len(pool_directions)
        realism = {
            "samples": reference.centre_latents.shape[0],
            "fd_centre": round(reference.fd_centre, 4),
            "set": realism_at_ends(
                model.generator, probe, direction_set.directions, reference, config, torch_device, model.discriminator
            ),
            "random": baseline_realism,
        }
        if reference.disc_centre is not None:
            realism["disc_prob_reference"] = round(float(reference.disc_reference or 0.0), 4)
            realism["disc_prob_centre"] = round(reference.disc_centre, 4)
        comparison = {
            name: {
                "set": summary["scores"][name],
                "random": base_summary["scores"][name],
                "margin": None
                if summary["scores"][name] is None
                else round(summary["scores"][name] - base_summary["scores"][name], 4),
                **compare_with_random(summary["scores"][name], distributions[k][name], pool_size, k),
            }
            for name in summary["scores"]
            if name in distributions[k]
        }
        outcome = verdict(comparison)
        evaluation: dict[str, Any] = {
            "set_id": direction_set.id,
            "set_checksum": direction_set.checksum,
            "model_id": model.id,
            "generator_checksum": model.generator_checksum,
            "method": direction_set.method,
            "probe": {"dir": str(probe_dir) if probe_dir else "default", "checksum": probe_meta.get("checksum")},
            "config": asdict(config),
            "shifts": _round_list(shifts.numpy()),
            "factor_names": factor_names,
            "paper_factors": [f for f in PAPER_FACTORS if f in factor_names],
            "factor_sd": dict(zip(factor_names, _round_list(reference.factor_std), strict=True)),
            "thresholds": {"alignment": TRACK_MIN_ALIGNMENT, "effect_sd": TRACK_MIN_EFFECT},
            "set": summary,
            "random_baseline": {"count": k, "seed": BASELINE_SEED, **base_summary},
            "random_distribution": {
                "sets": config.random_sets,
                "pool": pool_size,
                "draws": RANDOM_DRAWS,
                "seeds": [BASELINE_SEED + r for r in range(config.random_sets)],
            },
            "comparison": comparison,
            "verdict": outcome,
            "realism": realism,
            "seconds": None,
        }
        per_direction = direction_metrics(summary, traversals, factor_names)
        evaluation["directions"] = per_direction
        evaluation["seconds"] = round(time.perf_counter() - started, 2)
        png = heatmap_png(
            factor_names,
            [
                (f"{direction_set.id} ({direction_set.method}, K={direction_set.count})", summary),
                (f"random orthonormal (K={k})", base_summary),
            ],
            f"{model.id}: {config.seeds} seeds, shifts -{config.extent}..+{config.extent}, probe factors\n"
            + verdict_line(outcome),
        )
        save_direction_set_evaluation(model.path, direction_set.id, evaluation, png)
        _store_direction_metrics(model.path, direction_set.id, direction_set.meta, per_direction, evaluation)
        results[direction_set.id] = evaluation
    return results


def _store_direction_metrics(
    model_dir: Path, set_id: str, meta: dict[str, Any], per_direction: list[dict[str, Any]], evaluation: dict[str, Any]
) -> None:
    """Merge the evaluation into the set's json: per-direction metrics beside the discovery ones, plus a summary."""
    merged = []
    for entry, new in zip(meta.get("directions", []), per_direction, strict=False):
        kept = {k: v for k, v in (entry.get("metrics") or {}).items() if k != "factor_alignment"}
        merged.append({**entry, "metrics": {**kept, **new}})
    summary = {
        "scores": evaluation["set"]["scores"],
        "random_scores": evaluation["random_baseline"]["scores"],
        "verdict": evaluation["verdict"],
        "per_factor": {name: evaluation["set"]["per_factor"][name] for name in evaluation["factor_names"]},
        "realism": evaluation["realism"],
        "seeds": evaluation["config"]["seeds"],
        "extent": evaluation["config"]["extent"],
        "file": f"{set_id}.eval.json",
    }
    update_direction_set_meta(model_dir, set_id, {"directions": merged, "evaluation": summary})
