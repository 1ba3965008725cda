"""Distribution distances for generated images: a Frechet distance between feature sets and per-factor Wasserstein distances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import linalg, stats

from latentct.core.errors import InvalidInputError


def _as_matrix(name: str, values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise InvalidInputError(f"{name} must be a [N >= 2, D] array of features, got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{name} contains non-finite values")
    return array


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix through its eigendecomposition (negative noise clipped)."""
    eigenvalues, eigenvectors = linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Frechet distance between Gaussians fitted to two feature sets [N, D] (the FID formula, any feature space).

    d = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)). The cross term is computed as
    tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), which has the same eigenvalues but is symmetric, so it stays real and
    stable for rank-deficient covariances (fewer samples than dimensions), where a general `sqrtm` goes complex.
    """
    a, b = _as_matrix("feats_a", feats_a), _as_matrix("feats_b", feats_b)
    if a.shape[1] != b.shape[1]:
        raise InvalidInputError(f"feature sets differ in dimension: {a.shape[1]} vs {b.shape[1]}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    cross = linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_cross = float(np.sqrt(np.clip(cross, 0.0, None)).sum())
    distance = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_cross)
    return max(distance, 0.0)  # rounding can leave -1e-12 for identical sets


def factor_distribution_distance(
    pred_a: Any, pred_b: Any, names: Sequence[str] | None = None, scale: Sequence[float] | None = None
) -> dict[str, Any]:
    """How far set a's factor distributions are from reference set b's, factor by factor.

    For each factor (column) the 1-D Wasserstein-1 distance between the two empirical distributions, divided by the
    reference's standard deviation (or `scale`), so 0 means identical and 1 means "off by one spread of the data".
    Returns {"per_factor": {name: distance}, "mean": mean over factors}.
    """
    a, b = _as_matrix("pred_a", pred_a), _as_matrix("pred_b", pred_b)
    if a.shape[1] != b.shape[1]:
        raise InvalidInputError(f"factor sets differ in count: {a.shape[1]} vs {b.shape[1]}")
    names = list(names) if names is not None else [f"factor_{i}" for i in range(a.shape[1])]
    if len(names) != a.shape[1]:
        raise InvalidInputError(f"{len(names)} names for {a.shape[1]} factors")
    spread = np.asarray(scale, dtype=np.float64) if scale is not None else b.std(axis=0)
    if spread.shape != (a.shape[1],):
        raise InvalidInputError(f"scale must have {a.shape[1]} entries, got {spread.shape}")
    per_factor: dict[str, float] = {}
    for i, name in enumerate(names):
        distance = stats.wasserstein_distance(a[:, i], b[:, i])
        per_factor[name] = float(distance / spread[i]) if spread[i] > 1e-12 else float(distance)
    return {"per_factor": per_factor, "mean": float(np.mean(list(per_factor.values())))}
