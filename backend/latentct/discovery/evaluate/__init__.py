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

An evaluation runs in three stages, one module each: measure (render and probe the traversals of each set and of the
random sets, from the same seeds), compare (scores, the random distribution, the verdict), report (the set's
`.eval.json` and `.eval.png`, and its metrics merged into the set's json). `config` holds the thresholds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from latentct.artifacts import load_direction_set
from latentct.artifacts.probe import load_probe
from latentct.core.device import resolve_device
from latentct.discovery.common import load_for_discovery
from latentct.discovery.evaluate.compare import (
    RandomBaseline,
    compare_set,
    compare_with_random,
    direction_metrics,
    random_score_distribution,
    summarise_alignment,
    verdict,
)
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
    EvaluationConfig,
)
from latentct.discovery.evaluate.measure import (
    FactorProbe,
    RealismReference,
    Traversals,
    alignment_statistics,
    discriminator_probability,
    measure_random_sets,
    measure_set,
    measure_traversals,
    per_seed_statistics,
    prepare_bench,
    realism_at_ends,
    realism_reference,
)
from latentct.discovery.evaluate.report import evaluation_record, heatmap_png, verdict_line, write_report

# the names this module had before it became a package, and the entry point
__all__ = [
    "BASELINE_SEED",
    "CLEAN_MIN_SPECIFICITY",
    "CLEAR_MIN_Z",
    "HEADLINE_SCORE",
    "MIN_RANDOM_SD",
    "PAPER_FACTORS",
    "RANDOM_DRAWS",
    "TRACK_MIN_ALIGNMENT",
    "TRACK_MIN_EFFECT",
    "EvaluationConfig",
    "FactorProbe",
    "RealismReference",
    "Traversals",
    "alignment_statistics",
    "compare_with_random",
    "direction_metrics",
    "discriminator_probability",
    "evaluate_sets",
    "heatmap_png",
    "measure_traversals",
    "per_seed_statistics",
    "random_score_distribution",
    "realism_at_ends",
    "realism_reference",
    "summarise_alignment",
    "verdict",
    "verdict_line",
]


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
    sets = [load_direction_set(model.path, set_id, model.card) for set_id in set_ids]  # fail before any work
    probe = probe if probe is not None else load_probe(probe_dir, torch_device)
    probe_meta: dict[str, Any] = getattr(probe, "meta", None) or {}
    probe_source = {"dir": str(probe_dir) if probe_dir else "default", "checksum": probe_meta.get("checksum")}
    started = time.perf_counter()
    bench = prepare_bench(model, probe, config, torch_device)
    # random sets as large as the largest set, measured once: every set is compared with the very same ones
    random_count = min(max(s.count for s in sets), model.latent_dim)
    random_pool = measure_random_sets(bench, random_count)
    baseline = RandomBaseline(random_pool, random_count)
    results = {}
    for direction_set in sets:
        measured = measure_set(bench, direction_set.directions, desc=direction_set.id)
        compared = compare_set(measured, baseline, bench.reference.factor_std, config.extent, bench.factor_names)
        evaluation = evaluation_record(bench, direction_set, measured, compared, random_pool, probe_source, started)
        write_report(bench, direction_set, evaluation, compared)
        results[direction_set.id] = evaluation
    return results
