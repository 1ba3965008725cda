"""Stage 3, report: one set's evaluation as the stored `<set>.eval.json` and `.eval.png`, and its per-direction
metrics merged into the set's json (where the API reads them)."""

from __future__ import annotations

import io
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from latentct.artifacts import DirectionSet, update_direction_set_meta
from latentct.artifacts.directions import save_direction_set_evaluation
from latentct.discovery.evaluate.compare import Comparison, direction_metrics
from latentct.discovery.evaluate.config import BASELINE_SEED, PAPER_FACTORS, RANDOM_DRAWS, TRACK_MIN_ALIGNMENT, TRACK_MIN_EFFECT
from latentct.discovery.evaluate.measure import Bench, Measurement, RealismReference


def verdict_line(outcome: dict[str, Any]) -> str:
    z = "-" if outcome["z"] is None else f"{outcome['z']:.1f}"
    said = "beats random clearly" if outcome["beats_random_clearly"] else "not clearly above random"
    return (
        f"{outcome['score']} {outcome['set']:.3f} vs random {outcome['random_mean']:.3f} +- {outcome['random_sd']:.3f}"
        f" (z {z}): {said}"
    )


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


def realism_record(reference: RealismReference, set_ends: dict[str, Any], random_ends: dict[str, Any]) -> dict[str, Any]:
    """Frechet distances (and discriminator probabilities) of prior samples, centre frames and traversal ends."""
    realism: dict[str, Any] = {
        "samples": reference.centre_latents.shape[0],
        "fd_centre": round(reference.fd_centre, 4),
        "set": set_ends,
        "random": random_ends,
    }
    if reference.disc_centre is not None:
        realism["disc_prob_reference"] = round(float(reference.disc_reference or 0.0), 4)
        realism["disc_prob_centre"] = round(reference.disc_centre, 4)
    return realism


def evaluation_record(
    bench: Bench,
    direction_set: DirectionSet,
    measured: Measurement,
    compared: Comparison,
    random_pool: Measurement,
    probe_source: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """Everything `<set>.eval.json` holds: what was measured how, the set's summary, the random baseline, the
    comparison and verdict, realism and per-direction metrics; `seconds` counts from `started` (perf_counter)."""
    model, config, factor_names = bench.model, bench.config, bench.factor_names
    per_direction = direction_metrics(compared.summary, measured.traversals, factor_names)
    return {
        "set_id": direction_set.id,
        "set_checksum": direction_set.checksum,
        "model_id": model.id,
        "generator_checksum": model.generator_checksum,
        "method": direction_set.method,
        "probe": probe_source,
        "config": asdict(config),
        "shifts": _round_list(bench.shifts.numpy()),
        "factor_names": factor_names,
        "paper_factors": [f for f in PAPER_FACTORS if f in factor_names],
        "factor_sd": dict(zip(factor_names, _round_list(bench.reference.factor_std), strict=True)),
        "thresholds": {"alignment": TRACK_MIN_ALIGNMENT, "effect_sd": TRACK_MIN_EFFECT},
        "set": compared.summary,
        "random_baseline": {"count": compared.count, "seed": BASELINE_SEED, **compared.random_summary},
        "random_distribution": {
            "sets": config.random_sets,
            "pool": random_pool.count,
            "draws": RANDOM_DRAWS,
            "seeds": [BASELINE_SEED + r for r in range(config.random_sets)],
        },
        "comparison": compared.scores,
        "verdict": compared.verdict,
        "realism": realism_record(bench.reference, measured.realism_end, random_pool.realism_end),
        "seconds": round(time.perf_counter() - started, 2),
        "directions": per_direction,
    }


def write_report(bench: Bench, direction_set: DirectionSet, evaluation: dict[str, Any], compared: Comparison) -> None:
    """Save the evaluation json and its heatmap beside the set, and merge the per-direction metrics into the set."""
    config = bench.config
    png = heatmap_png(
        bench.factor_names,
        [
            (f"{direction_set.id} ({direction_set.method}, K={direction_set.count})", compared.summary),
            (f"random orthonormal (K={compared.count})", compared.random_summary),
        ],
        f"{bench.model.id}: {config.seeds} seeds, shifts -{config.extent}..+{config.extent}, probe factors\n"
        + verdict_line(compared.verdict),
    )
    save_direction_set_evaluation(bench.model.path, direction_set.id, evaluation, png)
    _store_direction_metrics(bench.model.path, direction_set, evaluation["directions"], evaluation)


def _store_direction_metrics(
    model_dir: Path, direction_set: DirectionSet, per_direction: list[dict[str, Any]], evaluation: dict[str, Any]
) -> None:
    """Merge the evaluation into the set's json: per-direction metrics beside the discovery ones, plus a summary."""
    set_id = direction_set.id
    merged = []
    for entry, new in zip(direction_set.card.directions, per_direction, strict=False):
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
