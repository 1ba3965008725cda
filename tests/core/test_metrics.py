"""The distribution distances: Frechet distance of feature sets and the factor distance in units of the reference spread."""

from __future__ import annotations

import numpy as np
import pytest

from latentct.core.errors import InvalidInputError
from latentct.core.metrics import factor_distribution_distance, frechet_distance


def test_frechet_distance_identical_sets_is_zero() -> None:
    feats = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift() -> None:
    a = np.random.default_rng(1).normal(size=(4000, 8))
    shift = np.array([1.0, -2.0, 0.5, 0, 0, 0, 0, 3.0])
    # identical covariances: only the means differ, so d = |shift|^2 exactly
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)


def test_frechet_distance_of_scaled_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20000, 4)), 3.0 * rng.normal(size=(20000, 4))
    # N(0, I) vs N(0, 9 I): d = tr(I + 9I - 2 * 3I) = 4 * 4 = 16
    assert frechet_distance(a, b) == pytest.approx(16.0, rel=0.05)


def test_frechet_distance_is_real_and_finite_with_fewer_samples_than_dimensions() -> None:
    rng = np.random.default_rng(3)
    d = frechet_distance(rng.normal(size=(10, 64)), rng.normal(size=(12, 64)))
    assert np.isfinite(d) and d > 0


def test_frechet_distance_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="dimension"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(InvalidInputError, match="non-finite"):
        frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))


def test_factor_distribution_distance_is_in_units_of_the_reference_spread() -> None:
    rng = np.random.default_rng(4)
    data = rng.normal(0, [1.0, 10.0], size=(5000, 2))
    same = factor_distribution_distance(rng.normal(0, [1.0, 10.0], size=(5000, 2)), data, names=["a", "b"])
    assert same["mean"] < 0.05
    shifted = factor_distribution_distance(data + np.array([1.0, 10.0]), data, names=["a", "b"])
    assert shifted["per_factor"]["a"] == pytest.approx(1.0, rel=0.02)
    assert shifted["per_factor"]["b"] == pytest.approx(1.0, rel=0.02)
    assert shifted["mean"] == pytest.approx(1.0, rel=0.02)
