"""The scorecard's parts on inputs with known answers (chance level, DCI, the found rule) and a whole run on a tiny
model with a real probe, the supervised reference among its sets."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.artifacts.directions import load_scorecard
from latentct.core.errors import InvalidInputError
from latentct.core.hardware import cpu_has_native_bf16
from latentct.discovery.discover import DiscoveryRequest, discover
from latentct.discovery.scorecard import (
    MIN_EFFECT_SD,
    ScorecardConfig,
    build_scorecard,
    chance_of_at_least,
    dci,
    markdown_table,
    responses,
    score_factor,
)


def test_chance_level_is_the_hypergeometric_probability_of_drawing_one_as_strong() -> None:
    pool = np.zeros(100)
    pool[:5] = 2.0  # five pool directions are at least as strong
    exact = 1 - math.comb(95, 10) / math.comb(100, 10)
    assert chance_of_at_least(pool, 1.5, 10) == pytest.approx(exact)
    rng = np.random.default_rng(0)  # and by simulation
    simulated = np.mean([(rng.choice(pool, 10, replace=False) >= 1.5).any() for _ in range(20_000)])
    assert chance_of_at_least(pool, 1.5, 10) == pytest.approx(simulated, abs=0.01)
    assert chance_of_at_least(pool, 3.0, 10) == 0.0 and chance_of_at_least(pool, 0.0, 10) == 1.0
    with pytest.raises(InvalidInputError, match="a set of 101 directions needs a random pool larger than 100"):
        chance_of_at_least(pool, 1.0, 101)


def test_dci_is_one_for_a_permutation_and_zero_for_uniform_change() -> None:
    assert dci(np.eye(4)[[2, 0, 3, 1]]) == pytest.approx((1.0, 1.0))
    assert dci(np.ones((4, 4))) == pytest.approx((0.0, 0.0))
    d, c = dci(np.array([[1.0, 0.0], [1.0, 0.0]]))  # two directions for one factor: disentangled, not complete
    assert d == pytest.approx(1.0) and c == pytest.approx(0.5)


def test_a_factor_is_found_only_far_clean_consistent_and_beyond_chance() -> None:
    rng = np.random.default_rng(0)
    sd = np.ones(3)
    pool_slopes = rng.normal(0, 0.05, size=(200, 8, 3))  # random directions barely move anything
    pool = responses(pool_slopes, sd, extent=3.0)
    good = np.zeros((1, 8, 3))
    good[0, :, 0] = 0.5  # 3 sd over +-3, all of it factor 0, every seed the same sign
    assert score_factor(responses(good, sd, 3.0), pool, 0)["found"]
    weak = good * 0.1  # 0.3 sd: too small
    assert not score_factor(responses(weak, sd, 3.0), pool, 0)["found"]
    mixed = good.copy()
    mixed[0, :, 1] = 0.6  # moves factor 1 more than factor 0: not specific
    assert not score_factor(responses(mixed, sd, 3.0), pool, 0)["found"]
    flipping = good.copy()
    flipping[0, :3, 0] = -0.5  # three of eight seeds go the other way
    row = score_factor(responses(flipping, sd, 3.0), pool, 0)
    assert row["sign_agreement"] == pytest.approx(5 / 8) and not row["found"]
    assert MIN_EFFECT_SD == 1.0


def test_scorecard_config_names_bad_values() -> None:
    with pytest.raises(InvalidInputError, match=re.escape("random directions must be in 16..100000, got 8")):
        ScorecardConfig(random_directions=8).check()
    with pytest.raises(InvalidInputError, match="precision must be 'auto', 'fp32' or 'bf16', got 'fp16'"):
        ScorecardConfig(precision="fp16").check()


@pytest.mark.slow
def test_scorecard_of_a_tiny_model_with_its_supervised_reference(tiny_models: Path, tiny_probe_dir: Path,
                                                                  tmp_path: Path) -> None:
    model_dir = tmp_path / "tiny-gan"
    shutil.copytree(tiny_models / "tiny-gan", model_dir)
    discover(model_dir, DiscoveryRequest(method="supervised", supervised_samples=256, probe_dir=str(tiny_probe_dir)),
             device="cpu", progress=False)
    discover(model_dir, DiscoveryRequest(method="jacobian", jacobian_samples=16), device="cpu", progress=False)
    config = ScorecardConfig(seeds=4, steps=5, random_directions=64, precision="fp32")
    card = build_scorecard(model_dir, ["supervised", "jacobian", "random"], config, probe_dir=tiny_probe_dir, device="cpu",
                           progress=False)
    assert card == load_scorecard(model_dir)
    card_json = card.to_json()
    assert card.reference == "supervised"
    assert card_json["config"]["precision"] == "fp32" and card_json["precision_used"] == "fp32"
    assert list(card_json).index("precision_used") == list(card_json).index("config") + 1
    assert ScorecardConfig(precision="bf16").resolved_precision(torch.device("cpu")) == "bf16"
    assert ScorecardConfig().resolved_precision(torch.device("cpu")) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert card.paper_factors == ["brightness", "centre_of_mass_y"]  # no phantom factors: every probe factor
    reference = card_json["sets"]["supervised"]
    assert reference["normalised"]["paper_score"] == pytest.approx(1.0)
    # the supervised direction for brightness moves brightness, and more than any random direction
    assert reference["per_factor"]["brightness"]["direction"] == 0
    assert reference["per_factor"]["brightness"]["share"] > 0.5
    for set_id in ("jacobian", "random"):
        assert card.sets[set_id].count == (8 if set_id == "jacobian" else 4)
        assert set(card_json["sets"][set_id]["random"]) == {"disentanglement", "completeness", "paper_score", "found"}
    saved = json.loads((model_dir / "scorecard.json").read_text())
    assert saved == card_json
    assert saved["intended_use"] == "research only, not for clinical use"
    assert (model_dir / "scorecard.png").read_bytes().startswith(b"\x89PNG")
    table = (model_dir / "scorecard.md").read_text()
    assert table == markdown_table(card_json) and "supervised (reference)" in table
    with pytest.raises(InvalidInputError, match="the scorecard needs at least one direction set"):
        build_scorecard(model_dir, [], config, probe_dir=tiny_probe_dir, device="cpu", progress=False)
