"""Typed cards (model, direction set, evaluation, scorecard): one read/validate idiom, unknown fields kept, one
merge-update, shipped cards round-trip unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from latentct.artifacts import (
    DirectionSetCard,
    ModelCard,
    load_direction_set,
    load_model_card,
    save_direction_set,
    save_model,
    update_direction_set_meta,
    update_manifest,
)
from latentct.artifacts.cards import Scorecard, SetEvaluation, merged
from latentct.artifacts.directions import (
    evaluation_paths,
    list_direction_sets,
    load_direction_set_evaluation,
    load_scorecard,
    save_direction_set_evaluation,
)
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets import build_component

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
ARCH = {"latent_dim": 8, "ngf": 4, "ndf": 4, "image_size": 16}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    save_model(tmp_path / "m", kind="gan", arch=ARCH, nets={"generator": build_component("gan", "generator", ARCH)})
    return tmp_path / "m"


@pytest.mark.parametrize("folder", sorted(p for p in REPO_MODELS.iterdir() if (p / "model.json").is_file()))
def test_shipped_cards_round_trip_byte_for_byte(folder: Path) -> None:
    """Reading a shipped card and writing it back changes nothing: no field lost, reordered or reformatted."""
    raw = json.loads((folder / "model.json").read_text())
    assert ModelCard.from_json(raw, folder / "model.json").to_json() == raw
    assert list(ModelCard.from_json(raw, folder / "model.json").to_json()) == list(raw)
    for set_id in list_direction_sets(folder):
        path = folder / "directions" / f"{set_id}.json"
        raw_set = json.loads(path.read_text())
        again = DirectionSetCard.from_json(raw_set, path).to_json()
        assert again == raw_set and list(again) == list(raw_set)
    if (folder / "scorecard.json").is_file():
        raw_card = json.loads((folder / "scorecard.json").read_text())
        card = load_scorecard(folder)
        assert card.to_json() == raw_card and list(card.to_json()) == list(raw_card)
        for set_id, row in raw_card["sets"].items():
            assert list(card.sets[set_id].to_json()) == list(row)


def _scorecard_json(**sets: dict[str, object]) -> dict[str, object]:
    return {"model_id": "m", "generator_checksum": "g" * 64, "factor_names": ["z_position", "rotation_deg"],
            "paper_factors": ["z_position", "rotation_deg"], "reference": None, "sets": sets}


def _row(checksum: str | None, **cells: tuple[int, bool]) -> dict[str, object]:
    per_factor = {name: {"direction": k, "effect_sd": 1.2, "share": 0.6, "sign_agreement": 1.0, "chance": 0.01,
                         "found": found} for name, (k, found) in cells.items()}
    return {"count": 4, "per_factor": per_factor, "method": "sefa", **({"checksum": checksum} if checksum else {})}


def test_a_scorecard_reads_its_cells_and_its_set_versions(tmp_path: Path) -> None:
    raw = _scorecard_json(sefa=_row("c" * 64, z_position=(2, True), rotation_deg=(2, True)),
                          old=_row(None, z_position=(1, False), rotation_deg=(3, True)))
    card = Scorecard.from_json(raw, tmp_path / "scorecard.json")
    assert card.best_direction("sefa", "z_position") == 2 and card.best_direction("old", "z_position") == 1
    assert card.best_direction("sefa", "breast_size") is None and card.best_direction("other", "z_position") is None
    assert card.sets["sefa"].found_by_direction() == {2: {"z_position", "rotation_deg"}}
    assert card.sets["old"].found_by_direction() == {3: {"rotation_deg"}}  # only found factors, never best-but-not-found
    assert card.sets["sefa"].is_of("c" * 64) and not card.sets["sefa"].is_of("d" * 64)
    assert card.sets["old"].is_of("d" * 64)  # written before the checksum was recorded: taken as current
    assert card.to_json()["intended_use"] == "research only, not for clinical use"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda raw: raw.pop("sets"), r"missing field 'sets'"),
    (lambda raw: raw["sets"]["a"]["per_factor"].update(z_position=[2]), r"field 'sets\.a\.per_factor\.z_position' must be dict"),
    (lambda raw: raw["sets"]["a"]["per_factor"]["z_position"].update(found="yes"), r"field 'found' must be bool, got str"),
    (lambda raw: raw["sets"]["a"]["per_factor"]["z_position"].update(share=True), r"field 'share' must be int or float"),
    (lambda raw: raw.update(reference="b"), r"field 'reference' names set 'b', which is not among \['a'\]"),
])
def test_a_broken_scorecard_names_the_file_and_field(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    raw = _scorecard_json(a=_row("c" * 64, z_position=(2, True)))
    change(raw)
    (tmp_path / "scorecard.json").write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match=r"scorecard\.json: " + expected):
        load_scorecard(tmp_path)


def test_unknown_fields_survive_a_merge_update(model_dir: Path) -> None:
    raw = json.loads((model_dir / "model.json").read_text())
    (model_dir / "model.json").write_text(json.dumps({**raw, "from_a_newer_writer": {"x": 1}}))
    card = update_manifest(model_dir, {"metrics": {"fid": 2.0}, "description": "retitled"})
    assert card.extra == {"from_a_newer_writer": {"x": 1}}
    reread = load_model_card(model_dir)
    assert reread.metrics == {"fid": 2.0} and reread.description == "retitled" and reread.extra == card.extra
    update_manifest(model_dir, {"metrics": {"memorisation": {"ratio": 1.3}}})  # merged one level deep
    assert load_model_card(model_dir).metrics == {"fid": 2.0, "memorisation": {"ratio": 1.3}}


@pytest.mark.parametrize("field", ["id", "kind", "arch", "checksums", "latent_dim"])
def test_protected_model_fields_are_refused_and_the_file_is_unchanged(model_dir: Path, field: str) -> None:
    before = (model_dir / "model.json").read_bytes()
    with pytest.raises(InvalidInputError, match=rf"\['{field}'\] of model.json cannot be updated; save the model again"):
        update_manifest(model_dir, {field: "x"})
    assert (model_dir / "model.json").read_bytes() == before


def test_an_update_that_breaks_the_card_is_refused_before_writing(model_dir: Path) -> None:
    before = (model_dir / "model.json").read_bytes()
    with pytest.raises(ArtifactError, match="field 'hu_range' must be"):
        update_manifest(model_dir, {"hu_range": [10, -10]})
    with pytest.raises(ArtifactError, match="field 'metrics' must be dict, got list"):
        update_manifest(model_dir, {"metrics": [1, 2]})
    assert (model_dir / "model.json").read_bytes() == before


def test_wrong_types_in_a_card_name_the_file_and_field(model_dir: Path) -> None:
    raw = json.loads((model_dir / "model.json").read_text())
    for field, value, expected in [("latent_dim", "8", "must be int, got str"), ("latent_dim", True, "must be int, got bool"),
                                   ("checksums", {}, "has no 'generator' entry"), ("kind", "gpt", "must be one of")]:
        (model_dir / "model.json").write_text(json.dumps({**raw, field: value}))
        with pytest.raises(ArtifactError, match=rf"model\.json: field '{field}'.*{expected}"):
            load_model_card(model_dir)


def test_direction_set_card_merge_and_protection(model_dir: Path) -> None:
    save_direction_set(model_dir, "r", torch.randn(3, 8), method="random", extra={"reference": True})
    card = update_direction_set_meta(model_dir, "r", {"evaluation": {"file": "r.eval.json"}, "metrics": {"m": 1}})
    assert card.evaluation == {"file": "r.eval.json"} and card.metrics == {"m": 1} and card.extra == {"reference": True}
    assert load_direction_set(model_dir, "r").card == card
    with pytest.raises(InvalidInputError, match=r"\['checksum'\] of a direction set cannot be updated"):
        update_direction_set_meta(model_dir, "r", {"checksum": "0" * 64})
    with pytest.raises(ArtifactError, match="field 'directions' has 2 entries for count 3"):
        merged(card, {"directions": [{}, {}]}, Path("r.json"))


def test_an_evaluation_knows_which_version_of_the_set_it_measured(model_dir: Path) -> None:
    first = save_direction_set(model_dir, "r", torch.randn(3, 8), method="random")
    header = {"set_id": "r", "set_checksum": first.checksum, "model_id": "m",
              "generator_checksum": load_model_card(model_dir).generator_checksum, "method": "random"}
    save_direction_set_evaluation(model_dir, "r", {**header, "verdict": {"better": True}}, PNG)
    evaluation = load_direction_set_evaluation(model_dir, "r")
    assert isinstance(evaluation, SetEvaluation) and evaluation.is_of(first.checksum)
    assert evaluation.body["verdict"] == {"better": True} and evaluation.body["intended_use"].startswith("research only")
    second = save_direction_set(model_dir, "r", torch.randn(3, 8), method="random")  # re-discovered: new version
    assert not load_direction_set_evaluation(model_dir, "r").is_of(second.checksum)
    json_path, _ = evaluation_paths(model_dir, "r")
    json_path.write_text(json.dumps({k: v for k, v in header.items() if k != "set_checksum"}))
    with pytest.raises(ArtifactError, match="missing field 'set_checksum'"):
        load_direction_set_evaluation(model_dir, "r")


def _set_card(params: dict[str, object], metrics: dict[str, object]) -> DirectionSetCard:
    return DirectionSetCard(id="s", model_id="m", method="voynov", count=4, latent_dim=8, generator_checksum="g" * 64,
                            checksum="c" * 64, params=params, metrics=metrics)


def test_trained_share_is_steps_done_over_steps_asked_for_trained_sets_only() -> None:
    assert _set_card({"steps": 100_000}, {"steps_done": 3455}).trained_share() == pytest.approx(0.03455)
    assert _set_card({"steps": 3000}, {"steps_done": 3000}).trained_share() == 1.0
    assert _set_card({"steps": 10}, {"steps_done": 12}).trained_share() == 1.0  # never above the whole schedule
    for params, metrics in [({}, {}), ({"seed": 1}, {"score": 2.0}), ({"steps": 0}, {"steps_done": 0}),
                            ({"steps": 10}, {"steps_done": "3"}), ({"steps": True}, {"steps_done": 1}),
                            ({"steps": 10}, {"steps_done": -1})]:
        assert _set_card(params, metrics).trained_share() is None, (params, metrics)
