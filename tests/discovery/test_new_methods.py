"""Jacobian (pullback-metric) and supervised directions on generators with known answers, the Voynov presets and
ranking, and the method registry's errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from latentct.artifacts import load_direction_set, load_model
from latentct.core.errors import InvalidInputError
from latentct.discovery.closed_form import ClosedFormResult
from latentct.discovery.discover import PRESETS, DiscoveryRequest, discover
from latentct.discovery.methods import get_method, method_names
from latentct.discovery.methods.builtin import rank_by_accuracy
from latentct.discovery.methods.jacobian import JacobianConfig, jacobian_columns, jacobian_directions, local_directions
from latentct.discovery.methods.supervised import SupervisedConfig, conditional_directions, supervised_directions
from latentct.nets.fused import form_name


class LinearImage(nn.Module):
    """G(z) = A z as an 8 x 8 image: its Jacobian is A everywhere, so E[J^T J] = A^T A exactly."""

    def __init__(self, latent_dim: int = 6, seed: int = 0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.map = nn.Linear(latent_dim, 64, bias=False)
        with torch.no_grad():
            self.map.weight.copy_(torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(seed)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.map(z).reshape(-1, 1, 8, 8)


class LinearProbe:
    """Reads 'factors' as fixed linear functions of the image."""

    def __init__(self) -> None:
        self.factor_names = ["a", "b", "c"]
        self.readout = torch.randn(64, 3, generator=torch.Generator().manual_seed(7))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) @ self.readout


def test_jacobian_metric_matches_forward_mode_autodiff_on_a_real_generator(tiny_models: Path) -> None:
    generator = load_model(tiny_models / "tiny-gan").generator
    z = torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(0))
    columns = jacobian_columns(generator, z).double()  # [B, D, pixels] by forward differences
    tangents = torch.eye(generator.latent_dim)
    with torch.no_grad():
        exact = torch.stack([torch.func.jvp(lambda x: generator(x).flatten(1), (z,), (t.expand_as(z),))[1]
                             for t in tangents], dim=1).double()
    metric, exact_metric = (torch.einsum("bip,bjp->ij", c, c) for c in (columns, exact))
    assert float((metric - exact_metric).norm() / exact_metric.norm()) < 0.05


def test_discovery_renders_with_the_fused_form_and_finds_the_eager_networks_directions(tiny_models: Path) -> None:
    """`fused_generator` is the engine's form; the Jacobian set it gives is the eager generator's, to rounding."""
    for model_id in ("tiny-gan", "tiny-vae"):
        model = load_model(tiny_models / model_id)
        assert form_name(model.fused_generator) == "fused" and model.fused_generator is model.fused_generator
        config = JacobianConfig(samples=16, batch_size=4)
        eager = jacobian_directions(model.generator, model.latent_dim, 3, config)
        fused = jacobian_directions(model.fused_generator, model.latent_dim, 3, config)
        cosines = (eager.directions * fused.directions).sum(dim=1)
        assert torch.all(cosines > 0.999), (model_id, cosines)


def test_jacobian_directions_are_the_eigenvectors_of_a_transpose_a() -> None:
    generator = LinearImage()
    a = generator.map.weight.detach().double()
    eigenvalues, vectors = torch.linalg.eigh(a.T @ a)
    result = jacobian_directions(generator, 6, 3, JacobianConfig(samples=16, batch_size=4))
    expected = vectors[:, torch.argsort(eigenvalues, descending=True)[:3]].T.float()
    cosine = (result.directions * expected).sum(dim=1).abs()
    assert torch.allclose(cosine, torch.ones(3), atol=1e-3)
    values = [d["eigenvalue"] for d in result.direction_metrics]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(float(eigenvalues.max()), rel=1e-3)
    local, local_values = local_directions(generator, torch.zeros(6), 3)
    assert torch.allclose((local * expected).sum(dim=1).abs(), torch.ones(3), atol=1e-3)
    assert float(local_values[0]) == pytest.approx(float(eigenvalues.max()), rel=1e-3)  # J is A at every z
    with pytest.raises(InvalidInputError, match=re.escape("-k 7 does not fit method 'jacobian': it gives 1..6 directions")):
        local_directions(generator, torch.zeros(6), 7)


def test_supervised_directions_move_one_factor_and_leave_the_others() -> None:
    generator, probe = LinearImage(), LinearProbe()
    result = supervised_directions(generator, probe, 6, SupervisedConfig(samples=256))
    assert [d["factor"] for d in result.direction_metrics] == ["a", "b", "c"]
    assert all(d["linear_r2"] > 0.999 for d in result.direction_metrics)  # linear factors are fully present
    gradients = (generator.map.weight.detach().T @ probe.readout).T  # [F, D]: d factor / d z
    change = result.directions @ gradients.T  # [direction, factor]: each factor's change per unit shift
    off_diagonal = change - torch.diag(torch.diagonal(change))
    assert torch.all(torch.diagonal(change) > 0)  # a positive shift increases its own factor
    assert off_diagonal.abs().max() < 1e-3 * torch.diagonal(change).min()
    assert torch.allclose(result.directions.norm(dim=1), torch.ones(3), atol=1e-5)


def test_conditional_directions_keep_the_gradient_when_the_others_fill_the_space() -> None:
    weights = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0]] + 0.1
    rows = conditional_directions(weights)  # 4 factors in 3-d: the others span everything
    assert torch.allclose(rows, weights / weights.norm(dim=1, keepdim=True))


def test_registry_lists_the_methods_and_names_unknown_ones() -> None:
    assert {"voynov", "sefa", "ganspace", "jacobian", "supervised", "random", "axes"} <= set(method_names())
    assert get_method("supervised").needs_probe
    with pytest.raises(InvalidInputError, match="method 'pca' is unknown; allowed: voynov, sefa"):
        get_method("pca")


def test_presets_fill_the_paper_and_original_configurations() -> None:
    paper = DiscoveryRequest(method="voynov", preset="paper").with_preset()
    assert (paper.direction_model, paper.count, paper.reconstructor, paper.steps, paper.batch_size, paper.lr) == (
        "unit", 100, "lenet", 3000, 128, 1e-4)
    assert paper.resolved_set_id() == "voynov-paper"
    original = DiscoveryRequest(method="voynov", preset="original").with_preset()
    assert (original.direction_model, original.count, original.steps, original.batch_size) == ("ortho", None, 100_000, 32)
    assert set(PRESETS) == {"paper", "original"}
    with pytest.raises(InvalidInputError, match="preset 'fast' is unknown; allowed: paper, original"):
        DiscoveryRequest(method="voynov", preset="fast").with_preset()
    with pytest.raises(InvalidInputError, match="--preset paper is a Voynov preset; it does not apply to method 'sefa'"):
        DiscoveryRequest(method="sefa", preset="paper").with_preset()


def test_rank_by_accuracy_orders_best_first_and_keeps_the_trained_index() -> None:
    directions = torch.eye(3)
    result = ClosedFormResult(directions, [{"rca": 0.2}, {"rca": 0.9}, {"rca": 0.5}], {}, {})
    ranked = rank_by_accuracy(result)
    assert [m["trained_index"] for m in ranked.direction_metrics] == [1, 2, 0]
    assert [m["rank"] for m in ranked.direction_metrics] == [1, 2, 3]
    assert torch.equal(ranked.directions, directions[[1, 2, 0]])


@pytest.mark.slow
def test_discover_saves_jacobian_supervised_and_ranked_voynov_sets(tiny_models: Path, tiny_probe_dir: Path,
                                                                     tmp_path: Path) -> None:
    model_dir = tmp_path / "tiny-gan"
    shutil.copytree(tiny_models / "tiny-gan", model_dir)
    jac = discover(model_dir, DiscoveryRequest(method="jacobian", jacobian_samples=8), device="cpu", progress=False)
    assert jac.id == "jacobian" and jac.count == 8 and jac.meta["provenance"]["commit"] is not None
    sup = discover(model_dir, DiscoveryRequest(method="supervised", supervised_samples=128, probe_dir=str(tiny_probe_dir)),
                   device="cpu", progress=False)
    assert sup.count == 2 and [d["metrics"]["factor"] for d in sup.meta["directions"]] == ["brightness", "centre_of_mass_y"]
    assert sup.meta["reference"] is True
    request = DiscoveryRequest(method="voynov", direction_model="unit", count=12, steps=3, batch_size=8, rca_samples=48)
    voynov = discover(model_dir, request, device="cpu", progress=False)
    ranks = [d["metrics"]["rca"] for d in voynov.meta["directions"]]
    assert voynov.count == 12 and ranks == sorted(ranks, reverse=True)
    assert load_direction_set(model_dir, "voynov-unit").count == 12
    with pytest.raises(InvalidInputError, match="-k 0: a set needs at least one direction"):
        discover(model_dir, DiscoveryRequest(method="sefa", count=0), device="cpu", progress=False)
    with pytest.raises(InvalidInputError, match=re.escape("-k 9 does not fit method 'jacobian': it gives 1..8 directions")):
        discover(model_dir, DiscoveryRequest(method="jacobian", count=9), device="cpu", progress=False)
