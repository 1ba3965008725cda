"""Stage 2, compare: what a set's statistics say (per factor its direction, the set's scores), where each score lies
among random sets of the same size, and whether the set beats them clearly (the rules are in the package doc)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from latentct.discovery.evaluate.config import (
    BASELINE_SEED,
    CLEAN_MIN_SPECIFICITY,
    CLEAR_MIN_Z,
    HEADLINE_SCORE,
    MIN_RANDOM_SD,
    PAPER_FACTORS,
    RANDOM_DRAWS,
    TRACK_MIN_ALIGNMENT,
    TRACK_MIN_EFFECT,
)
from latentct.discovery.evaluate.measure import Measurement, Traversals


def _passes(alignment: float, effect: float) -> bool:
    return abs(alignment) >= TRACK_MIN_ALIGNMENT and effect >= TRACK_MIN_EFFECT


def standardised_effect(slope: np.ndarray, factor_std: np.ndarray, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """(effect [K, F]: change over the whole traversal in population SDs, specificity [K, F]: effect rows made unit)."""
    effect = np.abs(slope) * (2 * extent) / np.maximum(factor_std, 1e-12)
    specificity = effect / np.maximum(np.linalg.norm(effect, axis=1, keepdims=True), 1e-12)
    return effect, specificity


def _reported_direction(alignment: np.ndarray, effect: np.ndarray, specificity: np.ndarray, f: int) -> tuple[int, bool, bool]:
    """(the direction reported for factor f, whether any direction tracks f, whether one tracks it cleanly)."""
    candidates = [k for k in range(len(alignment)) if _passes(alignment[k, f], effect[k, f])]
    clean = [k for k in candidates if specificity[k, f] >= CLEAN_MIN_SPECIFICITY]
    if clean:  # the clean direction that moves f furthest
        k = max(clean, key=lambda c: effect[c, f])
    elif candidates:  # else the cleanest one that tracks f
        k = max(candidates, key=lambda c: specificity[c, f])
    else:  # else the most monotone one
        k = int(np.abs(alignment[:, f]).argmax())
    return k, bool(candidates), bool(clean)


def _factor_entry(
    f: int,
    alignment: np.ndarray,
    alignment_se: np.ndarray | None,
    slope: np.ndarray,
    effect: np.ndarray,
    specificity: np.ndarray,
) -> dict[str, Any]:
    """Factor f's reported direction and how it moves f, beside the best any direction reaches."""
    k, tracked, clean = _reported_direction(alignment, effect, specificity, f)
    return {
        "direction": k,
        "alignment": round(float(alignment[k, f]), 4),
        "alignment_se": None if alignment_se is None else round(float(alignment_se[k, f]), 4),
        "slope_per_unit_shift": round(float(slope[k, f]), 5),
        "effect_sd": round(float(effect[k, f]), 4),
        "specificity": round(float(specificity[k, f]), 4),
        "tracked": tracked,
        "tracked_cleanly": clean,
        "clean_effect_sd": round(float(effect[k, f]), 4) if clean else 0.0,
        "max_abs_alignment": round(float(np.abs(alignment[:, f]).max()), 4),
        "max_effect_sd": round(float(effect[:, f].max()), 4),
    }


def _rounded_mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None  # None: the probe has no such factor


def _tracking_scores(per_factor: dict[str, dict[str, Any]], factor_names: list[str]) -> dict[str, Any]:
    """Scores of the directions reported per factor: how cleanly and how far they move it, how many factors are
    tracked; the same over the paper's factors alone."""
    paper = [name for name in factor_names if name in PAPER_FACTORS]
    chosen_specificity = {name: v["specificity"] if v["tracked"] else 0.0 for name, v in per_factor.items()}
    return {
        "specificity_score": round(float(np.mean(list(chosen_specificity.values()))), 4),
        "clean_effect_score": round(float(np.mean([v["clean_effect_sd"] for v in per_factor.values()])), 4),
        "factors_tracked": int(sum(v["tracked"] for v in per_factor.values())),
        "factors_tracked_cleanly": int(sum(v["tracked_cleanly"] for v in per_factor.values())),
        "paper_factors_tracked": int(sum(per_factor[name]["tracked"] for name in paper)),
        "paper_factors_tracked_cleanly": int(sum(per_factor[name]["tracked_cleanly"] for name in paper)),
        "paper_specificity_score": _rounded_mean([chosen_specificity[name] for name in paper]),
        "paper_clean_effect_score": _rounded_mean([per_factor[name]["clean_effect_sd"] for name in paper]),
    }


def summarise_alignment(
    alignment: np.ndarray,
    slope: np.ndarray,
    factor_std: np.ndarray,
    extent: float,
    factor_names: list[str],
    alignment_se: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per factor its direction, per direction its share of change, and the set's scores (see the package doc)."""
    magnitude = np.abs(alignment)  # (K, F)
    effect, specificity = standardised_effect(slope, factor_std, extent)  # (K, F) each
    per_factor = {
        name: _factor_entry(f, alignment, alignment_se, slope, effect, specificity) for f, name in enumerate(factor_names)
    }
    share = magnitude.max(axis=1) / np.maximum(magnitude.sum(axis=1), 1e-12)
    effect_share = effect.max(axis=1) / np.maximum(effect.sum(axis=1), 1e-12)
    rows, cols = optimize.linear_sum_assignment(-magnitude)  # each factor its own direction
    scores = {
        "alignment_score": round(float(magnitude.max(axis=0).mean()), 4),
        "matched_score": round(float(magnitude[rows, cols].sum() / len(factor_names)), 4),
        "disentanglement": round(float(share.mean()), 4),
        "effect_score": round(float(effect.max(axis=0).mean()), 4),
        "effect_disentanglement": round(float(effect_share.mean()), 4),
        **_tracking_scores(per_factor, factor_names),
    }
    return {
        "alignment": np.round(alignment, 4).tolist(),
        "slope": np.round(slope, 5).tolist(),
        "effect_sd": np.round(effect, 4).tolist(),
        "specificity": np.round(specificity, 4).tolist(),
        "share": np.round(share, 4).tolist(),
        "effect_share": np.round(effect_share, 4).tolist(),
        "per_factor": per_factor,
        "matched_directions": {factor_names[c]: int(r) for r, c in zip(rows, cols, strict=True)},
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
    """Whether the set beats random clearly on the headline score (see the package doc)."""
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
class RandomBaseline:
    """The pooled random sets (each of `set_count` directions) and, per K, the scores of RANDOM_DRAWS random sets of
    K drawn from the pool: drawn once per K and shared by every evaluated set of that size."""

    pool: Measurement
    set_count: int
    distributions: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


@dataclass
class Comparison:
    """A set's summary beside the first random set of the same K, and each score among random sets' scores."""

    count: int  # K of the random sets compared with
    summary: dict[str, Any]  # the set's, from summarise_alignment
    random_summary: dict[str, Any]  # the first random set of K, shown beside the set
    scores: dict[str, dict[str, Any]]  # per score: set, random, margin and where the set lies among random draws
    verdict: dict[str, Any]


def score_table(
    scores: dict[str, Any], random_scores: dict[str, Any], draws: dict[str, np.ndarray], pool: int, count: int
) -> dict[str, dict[str, Any]]:
    """Per score that random sets have: the set's value, the first random set's, the margin, where the set lies."""
    return {
        name: {
            "set": scores[name],
            "random": random_scores[name],
            "margin": None if scores[name] is None else round(scores[name] - random_scores[name], 4),
            **compare_with_random(scores[name], draws[name], pool, count),
        }
        for name in scores
        if name in draws
    }


def compare_set(
    measured: Measurement, baseline: RandomBaseline, factor_std: np.ndarray, extent: float, factor_names: list[str]
) -> Comparison:
    """One measured set against random sets of the same size (best-of-K scores grow with K)."""
    summary = summarise_alignment(measured.alignment, measured.slope, factor_std, extent, factor_names, measured.alignment_se)
    k = min(measured.count, baseline.set_count)
    pool = baseline.pool
    random_summary = summarise_alignment(
        pool.alignment[:k], pool.slope[:k], factor_std, extent, factor_names, pool.alignment_se[:k]
    )
    if k not in baseline.distributions:
        baseline.distributions[k] = random_score_distribution(pool.alignment, pool.slope, factor_std, extent, factor_names, k)
    scores = score_table(summary["scores"], random_summary["scores"], baseline.distributions[k], pool.count, k)
    return Comparison(k, summary, random_summary, scores, verdict(scores))
