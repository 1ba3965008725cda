"""`ica`: FastICA of GANSpace's principal subspace. Planted independent factors that PCA leaves mixed are recovered;
through `discover` on real tiny generators the set is saved, seeded and checked."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest
import torch

from latentct.core.errors import InvalidInputError
from latentct.discovery import closed_form
from latentct.discovery.closed_form import latent_moves, principal_components
from latentct.discovery.discover import DiscoveryRequest, discover
from latentct.discovery.methods.ica import (
    IcaConfig,
    excess_kurtosis,
    fastica,
    ica_from_features,
    stable_components,
    whiten,
)


def planted(n: int = 6000, latent_dim: int = 8, factors: int = 3, seed: int = 0
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features made of `factors` uniform factors, each a function of one latent direction (rows of the returned
    [factors, latent] matrix), mixed by a rotation with equal gains: PCA's eigenvalues tie, so PCA cannot tell the
    factors apart; only their non-Gaussianity can."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent_dim, generator=rng, dtype=torch.float64)
    truth, _ = torch.linalg.qr(torch.randn(latent_dim, factors, generator=rng, dtype=torch.float64))
    truth = truth.T  # [factors, latent] orthonormal
    uniform = 0.5 * (1 + torch.erf(z @ truth.T / math.sqrt(2)))  # Gaussian -> uniform on [0, 1]
    rotation, _ = torch.linalg.qr(torch.randn(factors, factors, generator=rng, dtype=torch.float64))
    embedding = torch.randn(factors, 40, generator=rng, dtype=torch.float64)
    embedding, _ = torch.linalg.qr(embedding.T)  # orthonormal columns: a rotation into 40 features
    features = (uniform - 0.5) @ rotation @ embedding.T + 0.01 * torch.randn(n, 40, generator=rng, dtype=torch.float64)
    return features.float(), z.float(), truth.float()


def best_match(directions: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """For every true direction, the largest |cos| with any found direction."""
    return (directions @ truth.T).abs().max(dim=0).values


def test_ica_recovers_planted_independent_factors_that_pca_leaves_mixed() -> None:
    features, z, truth = planted()
    directions, per_direction, run = ica_from_features(features, z, 3, IcaConfig(restarts=4))
    assert best_match(directions, truth).min() > 0.97
    assert run["converged"] is True and run["restarts_converged"] >= 1
    assert all(d["excess_kurtosis"] < -1.0 for d in per_direction)  # uniform sources: -1.2
    explained = [d["explained_variance"] for d in per_direction]
    assert explained == sorted(explained, reverse=True) and 0.9 < sum(explained) <= 1.0
    coordinates, _, _ = principal_components(features, 3)
    pca = latent_moves(coordinates, z)
    assert best_match(pca, truth).min() < 0.9  # the same subspace, mixed: the rotation is what ICA adds
    assert torch.allclose(directions.norm(dim=1), torch.ones(3), atol=1e-5)


def test_fastica_is_seeded_and_both_contrasts_converge_on_uniform_sources() -> None:
    features, z, _ = planted(seed=1)
    first = ica_from_features(features, z, 3, IcaConfig(restarts=2, seed=5))[0]
    again = ica_from_features(features, z, 3, IcaConfig(restarts=2, seed=5))[0]
    assert torch.equal(first, again)
    x = whiten(principal_components(features, 3)[0])
    for contrast in ("kurtosis", "logcosh"):
        w, iterations, converged = fastica(x, contrast, torch.eye(3, dtype=torch.float64), 500, 1e-8)
        assert converged and iterations < 500
        assert torch.allclose(w @ w.T, torch.eye(3, dtype=torch.float64), atol=1e-8)  # orthogonal unmixing
        assert excess_kurtosis(x @ w.T).max() < -1.0


def test_stable_components_keep_what_every_resample_finds_and_rank_the_rest_last() -> None:
    rng = torch.Generator().manual_seed(0)
    truth, _ = torch.linalg.qr(torch.randn(10, 3, generator=rng, dtype=torch.float64))
    truth = truth.T.float()  # three directions every run finds (up to noise and sign, in any order)
    runs = []
    for r in range(4):
        noisy = truth + 0.05 * torch.randn(3, 10, generator=rng)
        signs = torch.tensor([1.0, -1.0, 1.0 if r % 2 else -1.0])[:, None]
        stray = torch.randn(1, 10, generator=rng)  # a fourth that is different in every run
        runs.append(torch.nn.functional.normalize(torch.cat([noisy[torch.randperm(3, generator=rng)] * signs, stray]), dim=1))
    directions, metrics = stable_components(runs, 4)
    assert best_match(directions[:3], truth).min() > 0.97  # the averages of the three clusters, ranked first
    assert [m["resamples"] for m in metrics[:3]] == [4, 4, 4]
    assert metrics[0]["stability"] > metrics[3]["stability"]
    assert torch.allclose(directions.norm(dim=1), torch.ones(4), atol=1e-5)


def test_stable_components_return_as_many_directions_as_asked_when_distances_tie() -> None:
    axes = torch.eye(4)  # two resamples that found four mutually orthogonal directions: every |cos| is 0, every merge ties
    directions, metrics = stable_components([axes[:2], axes[2:]], 2)
    assert directions.shape == (2, 4) and len(metrics) == 2  # a cut at a height would merge all four into one
    assert torch.allclose(directions.norm(dim=1), torch.ones(2), atol=1e-6)


def test_randomised_pca_of_a_wide_sample_matches_the_exact_subspace(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = torch.Generator().manual_seed(3)
    scales = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.1])
    embedding, _ = torch.linalg.qr(torch.randn(60, 8, generator=rng))
    features = (torch.randn(600, 8, generator=rng) * scales) @ embedding.T  # 60 features, a clear spectrum
    exact, exact_var, total = principal_components(features, 4)
    monkeypatch.setattr(closed_form, "EXACT_PCA_LIMIT", 16)
    fast, fast_var, fast_total = principal_components(features, 4)
    assert fast_total == total and torch.allclose(fast_var, exact_var, rtol=1e-6)
    cosines = torch.linalg.svdvals(torch.nn.functional.normalize(exact, dim=0).T @ torch.nn.functional.normalize(fast, dim=0))
    assert cosines.min() > 0.999999
    assert torch.equal(fast, principal_components(features, 4)[0])  # seeded: the same twice


def test_ica_config_names_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="ICA contrast 'tanh' is unknown; allowed: kurtosis, logcosh"):
        IcaConfig(contrast="tanh").check()
    with pytest.raises(InvalidInputError, match="ica restarts"):
        IcaConfig(restarts=0).check()


@pytest.mark.slow
def test_discover_saves_an_ica_set_on_real_tiny_generators(tiny_models: Path, tmp_path: Path) -> None:
    for model_id in ("tiny-gan", "tiny-vae"):
        model_dir = tmp_path / model_id
        shutil.copytree(tiny_models / model_id, model_dir)
        request = DiscoveryRequest(method="ica", count=4, ganspace_samples=512, ica_restarts=2, ica_resamples=3)
        saved = discover(model_dir, request, device="cpu", progress=False)
        assert saved.id == "ica" and saved.method == "ica" and saved.count == 4
        assert saved.meta["params"]["block"] == 2 and saved.meta["params"]["n_samples"] == 512
        assert len(saved.meta["metrics"]["runs"]) == 3
        stability = [d["metrics"]["stability"] for d in saved.meta["directions"]]
        assert stability == sorted(stability, reverse=True)
        assert torch.allclose(saved.directions.norm(dim=1), torch.ones(4), atol=1e-5)
        again = discover(model_dir, DiscoveryRequest(method="ica", count=4, ganspace_samples=512, ica_restarts=2,
                                                     ica_resamples=3, set_id="ica-again"), device="cpu", progress=False)
        assert torch.equal(saved.directions, again.directions)
    assert DiscoveryRequest(method="ica").resolved_samples() == 8192
    assert DiscoveryRequest(method="ganspace").resolved_samples() == 2048
    assert DiscoveryRequest(method="ica").resolved_count(32) == 16 and DiscoveryRequest(method="sefa").resolved_count(32) == 32
    with pytest.raises(InvalidInputError, match=re.escape("-k 1 does not fit method 'ica'")):
        discover(model_dir, DiscoveryRequest(method="ica", count=1, ganspace_samples=64), device="cpu", progress=False)
    assert sorted(p.name for p in (model_dir / "directions").glob("ica*.json")) == ["ica-again.json", "ica.json"]
