"""How 3-D a generated volume is, beside real phantom volumes and plain latent interpolation (research only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from latentct.artifacts.probe import Probe
from latentct.core.hu import hu_to_unit, unit_to_hu
from latentct.core.latents import latent_from_seed
from latentct.data.phantom import render_slice, sample_patient
from latentct.rendering.volumes import LEVEL_FACTOR, LEVEL_RANGE, Volume, VolumeModel, level_index, render_unit

REAL_SEED = 20_261_207  # the real phantom patients measured beside a volume
INTERPOLATION_SEEDS = (1_000_003, 1_000_033)  # the two random latents of the interpolation floor
# Issue 20's targets, and the two ways an adjacent-slice spectrum fails: a static stack (steps under 1 HU: the slices
# hardly change) and a jumpy one (the per-step change varies more than its own mean).
TARGETS = {"min_spearman": 0.95, "min_span": 0.8, "max_drift_sd": 0.5, "min_step_hu": 1.0, "max_step_cv": 1.0}


@dataclass(frozen=True)
class StackMetrics:
    """One stack's numbers: (a) level monotonicity and span, (b) other factors' drift, (c) adjacent-slice steps."""

    spearman: float | None  # rank correlation of the probe's level with the slice index (1: monotone apex->abdomen)
    span: float | None  # share of the phantom's level range the probe's levels cover
    drift_sd: dict[str, float] | None  # per other factor: peak-to-peak of its estimate along the stack, natural sd
    max_drift_sd: float | None
    step_mean_hu: float  # mean over steps of the mean |slice i+1 - slice i| in HU
    step_cv: float  # coefficient of variation of those per-step means (a jumpy stack has a high one)


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0


def step_spectrum(hu: np.ndarray) -> tuple[float, float]:
    """Mean absolute HU difference per adjacent pair, summarised by its mean and coefficient of variation."""
    steps = np.abs(np.diff(hu.astype(np.float32), axis=0)).mean(axis=(1, 2))
    mean = float(steps.mean())
    return mean, float(steps.std() / mean) if mean > 0 else 0.0


def level_metrics(levels: np.ndarray) -> tuple[float, float]:
    """Spearman of the level with the slice index, and the share of LEVEL_RANGE the levels cover."""
    lo, hi = LEVEL_RANGE
    rho = _finite(spearmanr(np.arange(len(levels)), levels).statistic) if np.ptp(levels) > 0 else 0.0
    covered = min(float(levels.max()), hi) - max(float(levels.min()), lo)
    return rho, max(0.0, covered / (hi - lo))


def measure_stack(unit: np.ndarray, hu_range: tuple[float, float], probe: Probe | None) -> StackMetrics:
    """Measure one stack (N, H, W) in [-1, 1]; without a probe only the adjacent-slice spectrum."""
    step_mean, step_cv = step_spectrum(np.asarray(unit_to_hu(unit, hu_range)))
    if probe is None:
        return StackMetrics(None, None, None, None, step_mean, step_cv)
    factors = probe.predict(torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32))[:, None]).numpy()
    level = level_index(probe)
    rho, span = level_metrics(factors[:, level].astype(np.float64))
    sd = probe.factor_std.numpy()
    drift = {name: float(np.ptp(factors[:, i]) / sd[i]) for i, name in enumerate(probe.factor_names) if i != level}
    return StackMetrics(rho, span, drift, max(drift.values(), default=0.0), step_mean, step_cv)


def real_phantom_stack(
    count: int, size: int, levels: tuple[float, float], hu_range: tuple[float, float], patient: int = 0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A real phantom patient's slices at `count` levels from levels[0] to levels[1] (the volume's spacing), [-1, 1].
    `rng`: the patient's generator (a training set's: data/phantom.py `patient_rng`); default the measurement's own."""
    rng = np.random.default_rng([REAL_SEED, patient]) if rng is None else rng
    person = sample_patient(rng, patient_id=patient)
    lo, hi = LEVEL_RANGE
    z = np.clip(np.linspace(levels[0], levels[1], count), lo, hi)
    hu = np.stack([render_slice(person, float(v), size, rng) for v in z])
    return np.asarray(hu_to_unit(hu, hu_range), dtype=np.float32)


def interpolation_stack(model: VolumeModel, count: int) -> np.ndarray:
    """Plain interpolation between two random latents, the floor a volume must beat."""
    a, b = (latent_from_seed(s, model.latent_dim) for s in INTERPOLATION_SEEDS)
    weights = torch.linspace(0.0, 1.0, count)[:, None]
    return render_unit(model, a[None] * (1 - weights) + b[None] * weights)


def checks(stack: StackMetrics) -> dict[str, bool | None]:
    """Each target met or not (None: not measurable without a probe)."""
    def at_least(value: float | None, floor: float) -> bool | None:
        return None if value is None else value >= floor

    return {
        "monotone": at_least(stack.spearman, TARGETS["min_spearman"]),
        "spans": at_least(stack.span, TARGETS["min_span"]),
        "others_held": None if stack.max_drift_sd is None else stack.max_drift_sd < TARGETS["max_drift_sd"],
        "not_static": stack.step_mean_hu >= TARGETS["min_step_hu"],
        "not_jumpy": stack.step_cv <= TARGETS["max_step_cv"],
    }


def volume_levels(volume: Volume) -> tuple[float, float]:
    """The probe levels of the volume's first and last slice (the whole phantom range when it had no probe)."""
    return volume.level_targets if volume.level_targets is not None else LEVEL_RANGE


def measure_volume(volume: Volume, model: VolumeModel, probe: Probe | None, baselines: bool = True) -> dict[str, Any]:
    """The volume's numbers, and (with `baselines`) those of a real phantom volume at the same levels and spacing and
    of plain interpolation between two random latents, measured the same way."""
    stack = measure_stack(volume.images, volume.hu_range, probe)
    result: dict[str, Any] = {"level_factor": LEVEL_FACTOR, "targets": TARGETS, "volume": asdict(stack), "checks": checks(stack)}
    if baselines:
        size = volume.images.shape[-1]
        real = real_phantom_stack(volume.count, size, volume_levels(volume), volume.hu_range)
        result["real_phantom"] = asdict(measure_stack(real, volume.hu_range, probe))
        result["interpolation"] = asdict(measure_stack(interpolation_stack(model, volume.count), volume.hu_range, probe))
    return result


def summary_lines(measurements: dict[str, Any]) -> list[str]:
    """Readable lines, one per stack, for the CLI."""
    lines = []
    for name in ("volume", "real_phantom", "interpolation"):
        m = measurements.get(name)
        if m is None:
            continue
        level = "level: no probe" if m["spearman"] is None else (
            f"level Spearman {m['spearman']:+.3f}, span {100 * m['span']:.0f} %, "
            f"other factors drift max {m['max_drift_sd']:.2f} sd"
        )
        lines.append(f"{name:14s} {level}; steps {m['step_mean_hu']:.1f} HU mean, cv {m['step_cv']:.2f}")
    failed = [name for name, ok in measurements.get("checks", {}).items() if ok is False]
    lines.append("targets: all met" if not failed else f"targets missed: {', '.join(failed)}")
    return lines
