"""Evaluation against a probe (a real tiny regressor trained in conftest) and the traversal export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentct.artifacts import load_direction_set, load_model, save_direction_set
from latentct.artifacts.directions import evaluation_paths, load_direction_set_evaluation
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.discovery.closed_form import random_orthonormal
from latentct.discovery.evaluate import (
    EvaluationConfig,
    alignment_statistics,
    compare_with_random,
    evaluate_sets,
    random_score_distribution,
    summarise_alignment,
)
from latentct.discovery.export import ExportConfig, export_traversals, label_consensus
from tests.discovery.conftest import PROBE_FACTORS, image_statistics, train_tiny_probe


def test_alignment_statistics_on_known_traversals() -> None:
    shifts = torch.linspace(-2, 2, 5)
    rng = torch.Generator().manual_seed(0)
    predictions = torch.zeros(3, 4, 5, 2)  # (K, S, T, F)
    predictions[0, :, :, 0] = 3 * shifts + torch.randn(4, 1, generator=rng)  # direction 0 raises factor 0, slope 3
    predictions[1, :, :, 1] = -(shifts**3)  # direction 1 lowers factor 1, monotone but not linear
    predictions[2] = torch.randn(4, 5, 2, generator=rng)  # direction 2: noise
    alignment, alignment_se, slope = alignment_statistics(predictions, shifts)
    assert alignment.shape == slope.shape == alignment_se.shape == (3, 2)
    assert alignment_se[0, 0] == 0.0 and alignment_se[2].max() > 0  # identical for every seed vs noise
    assert alignment[0, 0] == pytest.approx(1.0) and slope[0, 0] == pytest.approx(3.0)
    assert alignment[1, 1] == pytest.approx(-1.0)
    assert alignment[0, 1] == 0.0  # a factor that never changes has no rank order: 0, not NaN
    assert abs(alignment[2]).max() < 0.9
    summary = summarise_alignment(alignment, slope, np.array([1.0, 1.0]), 2.0, ["a", "b"])
    assert summary["per_factor"]["a"]["direction"] == 0 and summary["per_factor"]["a"]["tracked"]
    assert summary["per_factor"]["b"]["direction"] == 1 and summary["matched_directions"] == {"a": 0, "b": 1}
    assert summary["scores"]["alignment_score"] == pytest.approx(1.0)
    assert summary["per_factor"]["a"]["tracked_cleanly"] and summary["per_factor"]["a"]["specificity"] == pytest.approx(1.0)
    assert summary["scores"]["factors_tracked_cleanly"] == 2 and summary["scores"]["effect_disentanglement"] > 0.5


def _random_rows(count: int, factors: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Alignment and slope rows of directions that move every factor by a random amount (what random directions do)."""
    rng = np.random.default_rng(seed)
    slope = rng.normal(size=(count, factors))
    return np.tanh(2 * slope), slope


def test_random_distribution_separates_a_disentangled_set_from_random_ones() -> None:
    factors, k = 4, 8
    names = [f"f{i}" for i in range(factors)]
    pool_alignment, pool_slope = _random_rows(4 * k, factors, seed=1)
    draws = random_score_distribution(pool_alignment, pool_slope, np.ones(factors), 1.0, names, k, draws=300)
    assert set(draws) >= {"disentanglement", "alignment_score", "effect_score"} and len(draws["disentanglement"]) == 300
    assert draws["disentanglement"].std() > 0  # different draws, different scores

    # one factor per direction, twice over: as disentangled as a set can be
    one_hot = np.tile(np.eye(factors), (2, 1))
    clean = summarise_alignment(one_hot, one_hot, np.ones(factors), 1.0, names)["scores"]["disentanglement"]
    clean_row = compare_with_random(clean, draws["disentanglement"], pool=4 * k, count=k)
    assert clean == pytest.approx(1.0) and clean_row["z"] > 3 and clean_row["exceeds_random_share"] == 1.0

    # a fresh random set sits inside the distribution
    alignment, slope = _random_rows(k, factors, seed=2)
    fresh = summarise_alignment(alignment, slope, np.ones(factors), 1.0, names)["scores"]["disentanglement"]
    fresh_row = compare_with_random(fresh, draws["disentanglement"], pool=4 * k, count=k)
    assert abs(fresh_row["z"]) < 3 and 0 < fresh_row["exceeds_random_share"] < 1

    # the draws' sd widened for the finite pool; a distribution without spread gives no z at all
    widened = draws["disentanglement"].std(ddof=1) * np.sqrt((4 * k + k) / (4 * k - k))
    assert clean_row["random_sd"] == pytest.approx(widened, abs=1e-4)
    assert compare_with_random(0.5, np.full(10, 0.4), pool=16, count=4)["z"] is None


def test_random_z_is_calibrated_for_random_sets() -> None:
    """Under the null (the set is one more random set), z over many pools and sets has mean ~0 and sd ~1."""
    factors, k, trials = 4, 8, 120
    names = [f"f{i}" for i in range(factors)]
    z_values = []
    for trial in range(trials):
        pool_alignment, pool_slope = _random_rows(4 * k, factors, seed=1000 + trial)
        draws = random_score_distribution(pool_alignment, pool_slope, np.ones(factors), 1.0, names, k, draws=60, seed=trial)
        alignment, slope = _random_rows(k, factors, seed=5000 + trial)
        score = summarise_alignment(alignment, slope, np.ones(factors), 1.0, names)["scores"]["effect_disentanglement"]
        z_values.append(compare_with_random(score, draws["effect_disentanglement"], pool=4 * k, count=k)["z"])
    assert abs(np.mean(z_values)) < 0.3 and 0.85 < np.std(z_values) < 1.15  # uncorrected: 1.33


@pytest.fixture(scope="module")
def evaluated(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """tiny-gan copy with a set 'planted' whose first two rows are the linear latent directions of the probe's two
    factors (least squares over samples), then two random rows; evaluated with the tiny probe."""
    root = tmp_path_factory.mktemp("evaluated")
    model_dir = root / "tiny-gan"
    shutil.copytree(tiny_models / "tiny-gan", model_dir)
    model = load_model(model_dir)
    probe = train_tiny_probe(model.generator, 8, root / "probe")
    with torch.no_grad():
        z = torch.randn(2048, 8, generator=torch.Generator().manual_seed(0))
        targets = image_statistics(model.generator(z))
    coef = torch.linalg.lstsq(torch.cat([z, torch.ones(len(z), 1)], 1), targets).solution[:8].T  # (2, 8)
    save_direction_set(
        model_dir,
        "planted",
        torch.cat([coef, random_orthonormal(8, 2, seed=9)]),
        method="test",
        direction_metrics=[{"score": k} for k in range(4)],
    )
    config = EvaluationConfig(seeds=8, steps=7, extent=3.0, realism_samples=64)
    results = evaluate_sets(model_dir, ["planted", "random"], config, probe=probe, device="cpu")
    return model_dir, results


def test_evaluation_finds_the_planted_directions_and_beats_random(evaluated: tuple[Path, dict]) -> None:
    _, results = evaluated
    planted = results["planted"]
    assert planted["factor_names"] == PROBE_FACTORS
    assert np.asarray(planted["set"]["alignment"]).shape == (4, 2)
    assert np.asarray(planted["random_baseline"]["alignment"]).shape == (4, 2)  # same K as the set
    per_factor = planted["set"]["per_factor"]
    assert per_factor["brightness"]["direction"] == 0 and per_factor["brightness"]["tracked"]
    assert per_factor["centre_of_mass_y"]["direction"] == 1 and abs(per_factor["centre_of_mass_y"]["alignment"]) > 0.7
    assert planted["comparison"]["alignment_score"]["margin"] > 0
    assert planted["comparison"]["effect_score"]["margin"] > 0
    distribution = planted["random_distribution"]
    assert distribution["sets"] == 4 and distribution["pool"] == 4 * 4  # four random sets of the largest K (4)
    row = planted["comparison"]["effect_disentanglement"]
    assert row["random_sd"] > 0 and row["z"] is not None and 0 <= row["exceeds_random_share"] <= 1
    assert planted["verdict"]["score"] == "effect_disentanglement"
    assert planted["verdict"]["beats_random_clearly"] == (row["z"] >= 3 and row["set"] > row["random_max"])
    assert planted["comparison"]["alignment_score"]["z"] > 1  # the planted rows are the factors' own directions
    realism = planted["realism"]
    assert realism["fd_centre"] >= 0 and realism["set"]["fd_end"] > realism["fd_centre"]
    assert 0 <= realism["set"]["disc_prob_end"] <= 1  # the GAN folder has a discriminator
    # both sets were compared with the very same baseline
    assert results["random"]["random_baseline"]["alignment"] == planted["random_baseline"]["alignment"]


def test_evaluation_is_stored_with_the_set(evaluated: tuple[Path, dict]) -> None:
    model_dir, results = evaluated
    json_path, png_path = evaluation_paths(model_dir, "planted")
    assert json_path.is_file() and png_path.is_file()
    with Image.open(png_path) as image:
        assert image.format == "PNG" and image.width > 300
    stored = load_direction_set_evaluation(model_dir, "planted")
    assert stored.body["set"]["scores"] == results["planted"]["set"]["scores"]
    assert stored.is_of(load_direction_set(model_dir, "planted").checksum) and stored.method == "test"
    card = load_direction_set(model_dir, "planted").card  # still loads: checksum and generator unchanged
    first = card.direction_metrics()[0]
    assert first["score"] == 0  # discovery metrics kept
    assert first["best_factor"] == "brightness" and set(first["factor_alignment"]) == set(PROBE_FACTORS)
    assert card.evaluation is not None and card.evaluation["file"] == "planted.eval.json"
    with pytest.raises(NotFoundError, match="has no evaluation"):
        load_direction_set_evaluation(model_dir, "nonexistent")


def test_evaluation_config_rejects_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="extent must be in"):
        EvaluationConfig(extent=0).check()
    with pytest.raises(InvalidInputError, match="steps must be in"):
        EvaluationConfig(steps=2).check()
    with pytest.raises(InvalidInputError, match=r"random_sets must be in 2\.\.64 .*got 1"):
        EvaluationConfig(random_sets=1).check()


def test_export_traversals_writes_gifs_sheet_and_report(evaluated: tuple[Path, dict], tmp_path: Path) -> None:
    model_dir, _ = evaluated
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "labels": [
                    {"model": "tiny-gan", "set": "planted", "direction": 0, "term": "brightness", "current": True},
                    {"model": "tiny-gan", "set": "planted", "direction": 0, "term": "brightness", "current": True},
                    {"model": "tiny-gan", "set": "planted", "direction": 0, "term": "size", "current": False},
                    {"model": "other", "set": "planted", "direction": 1, "term": "size", "current": True},
                ]
            }
        )
    )
    out = tmp_path / "export"
    config = ExportConfig(seeds=3, steps=5, extent=3.0)
    export_traversals(model_dir, "planted", out, config, device="cpu", labels_file=labels)
    gifs = sorted(out.glob("direction_*.gif"))
    assert len(gifs) == 4
    with Image.open(gifs[0]) as gif:
        assert gif.n_frames == 2 * 5 - 2  # forth and back without repeating the ends
        assert gif.width == 3 * 32  # three seeds side by side
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.height >= 4 * config.sheet_px
    report = (out / "report.md").read_text()
    assert "brightness (100% of 2)" in report and "| alignment_score |" in report and "direction_003.gif" in report
    assert "random sets: mean ± sd" in report and ("beats random clearly" in report or "not clearly above random" in report)
    assert (out / "planted.eval.png").is_file()
    with pytest.raises(InvalidInputError, match="already exists"):
        export_traversals(model_dir, "planted", out, config, device="cpu")
    assert label_consensus(None, "tiny-gan", "planted") == {}
