"""Reader studies at the store level: per-annotator order, hidden sets, linked blinded labels, results."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from latentct.artifacts.cards import Scorecard
from latentct.artifacts.catalog import SetIdentity
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.labels.errors import ConflictError, PermissionDeniedError
from latentct.labels.store import Annotator, LabelQuery, LabelStore
from latentct.labels.studies import LabelFields, StudyStore, annotator_order
from latentct.labels.study_results import measured_terms, results_csv, results_figure, study_results
from tests.labels.label_server_app import FixedCatalog

MODEL, MODEL_SUM = "gan_demo", "a" * 64
SET_A = SetIdentity(MODEL, MODEL_SUM, "hiddenalpha", "1" * 64, 4)
SET_B = SetIdentity(MODEL, MODEL_SUM, "hiddenbravo", "2" * 64, 3)
SET_C = SetIdentity(MODEL, MODEL_SUM, "hiddencharlie", "3" * 64, 5)
SET_IDS = ("hiddenalpha", "hiddenbravo", "hiddencharlie")


def _people(store: LabelStore) -> tuple[Annotator, Annotator, Annotator]:
    admin, _ = store.create_annotator("Dr Admin", "admin")
    first, _ = store.create_annotator("Dr One")
    second, _ = store.create_annotator("Dr Two")
    return admin, first, second


def test_order_is_stable_per_annotator_and_differs_between_annotators(store: LabelStore) -> None:
    admin, first, second = _people(store)
    studies = StudyStore(store)
    study = studies.create(admin, [SET_A, SET_B, SET_C], "study one")
    assert [s.directions for s in study.sets] == [4, 3, 5]
    order_first = [item.item_id for item in studies.annotator_items(study.id, first)]
    assert len(order_first) == 12 and len(set(order_first)) == 12
    # a new store (a new session, a restarted server) gives the same order
    again = [item.item_id for item in StudyStore(store).annotator_items(study.id, first)]
    assert again == order_first
    assert [item.item_id for item in studies.annotator_items(study.id, second)] != order_first
    assert annotator_order(study.id, first.id, list(reversed(order_first))) == order_first


def test_items_are_opaque_and_the_annotator_view_names_no_set(store: LabelStore) -> None:
    admin, first, _ = _people(store)
    studies = StudyStore(store)
    study = studies.create(admin, [SET_A, SET_B, SET_C], directions_per_set=2)
    items = studies.items(study.id)
    assert len(items) == 6
    for item in items:
        assert len(item.item_id) == 16 and all(ch in "0123456789abcdef" for ch in item.item_id)
    shown = repr(studies.view(study.id, first)) + repr(studies.annotator_items(study.id, first))
    assert not any(set_id in shown for set_id in SET_IDS)


def test_creation_rules(store: LabelStore) -> None:
    admin, first, _ = _people(store)
    studies = StudyStore(store)
    with pytest.raises(PermissionDeniedError):
        studies.create(first, [SET_A, SET_B])
    with pytest.raises(InvalidInputError, match="several"):
        studies.create(admin, [SET_A])
    with pytest.raises(InvalidInputError, match="repeated"):
        studies.create(admin, [SET_A, SET_A])
    with pytest.raises(InvalidInputError, match="must not reveal"):
        studies.create(admin, [SET_A, SET_B], name="HiddenAlpha vs bravo")
    other_model = SetIdentity("vae_demo", "d" * 64, "pca", "e" * 64, 4)
    with pytest.raises(InvalidInputError, match="one model"):
        studies.create(admin, [SET_A, other_model])
    with pytest.raises(NotFoundError):
        studies.detail(999)


def test_a_study_label_is_a_normal_blinded_label_linked_to_its_item(store: LabelStore) -> None:
    admin, first, _ = _people(store)
    studies = StudyStore(store)
    catalog = FixedCatalog([SET_A, SET_B])
    study = studies.create(admin, [SET_A, SET_B])
    item_id = studies.view(study.id, first).next_item
    assert item_id is not None
    answer = studies.label_item(first, study.id, item_id, catalog, LabelFields("rotation", confidence=5), "key-1")
    replay = studies.label_item(first, study.id, item_id, catalog, LabelFields("rotation", confidence=5), "key-1")
    assert replay.label_id == answer.label_id and answer.blinded
    assert answer.next_item not in (None, item_id)
    stored = store.list_labels(LabelQuery(annotator_id=first.id))
    assert len(stored) == 1 and stored[0].blinded
    target = studies.item(study.id, item_id)
    assert (stored[0].set_id, stored[0].direction_index) == (target.set_id, target.direction)
    assert studies.view(study.id, first).labelled == 1
    with pytest.raises(NotFoundError, match="no item"):
        studies.label_item(first, study.id, "0" * 16, catalog, LabelFields("rotation"))


def test_errors_while_labelling_hide_the_set(store: LabelStore) -> None:
    admin, first, _ = _people(store)
    studies = StudyStore(store)
    study = studies.create(admin, [SET_A, SET_B])
    item_id = studies.view(study.id, first).next_item
    assert item_id is not None
    gone = FixedCatalog([SetIdentity(MODEL, MODEL_SUM, "unrelated", "9" * 64, 2)])
    with pytest.raises(NotFoundError) as missing:
        studies.label_item(first, study.id, item_id, gone, LabelFields("rotation"))
    assert not any(set_id in str(missing.value) for set_id in SET_IDS)
    retrained = FixedCatalog([SetIdentity(MODEL, MODEL_SUM, s.set_id, "f" * 64, s.count) for s in (SET_A, SET_B)])
    with pytest.raises(ConflictError) as changed:
        studies.label_item(first, study.id, item_id, retrained, LabelFields("rotation"))
    assert not any(set_id in str(changed.value) for set_id in SET_IDS)


CELL = {"effect_sd": 1.5, "share": 0.7, "sign_agreement": 1.0, "chance": 0.01}
SCORECARD_JSON = {
    "model_id": MODEL,
    "generator_checksum": MODEL_SUM,
    "factor_names": ["rotation_deg", "breast_size", "noise_hu", "x_offset"],
    "paper_factors": ["rotation_deg", "breast_size"],
    "sets": {
        "hiddenalpha": {
            "method": "sefa",
            "checksum": "1" * 64,
            "count": 2,
            "per_factor": {
                "rotation_deg": {"direction": 0, "found": True, **CELL},
                "breast_size": {"direction": 0, "found": False, **CELL},
                "noise_hu": {"direction": 1, "found": True, **CELL},
            },
        },
        "hiddenbravo": {"method": "random", "checksum": "stale", "count": 2,
                        "per_factor": {"x_offset": {"direction": 0, "found": True, **CELL}}},
    },
}
SCORECARD = Scorecard.from_json(SCORECARD_JSON, Path("scorecard.json"))


def _label_direction(
    studies: StudyStore, catalog: FixedCatalog, who: Annotator, study_id: int, set_id: str, direction: int,
    term: str, confidence: int,
) -> None:
    item = next(i for i in studies.items(study_id) if (i.set_id, i.direction) == (set_id, direction))
    text = "something" if term == "other" else ""
    studies.label_item(who, study_id, item.item_id, catalog, LabelFields(term, text=text, confidence=confidence))


def test_results_on_a_worked_example(store: LabelStore) -> None:
    """Two annotators, set A directions 0..1 (scorecard found rotation on 0, noise on 1), set B directions 0..1.

    A: d0 rotation(5)/rotation(4), d1 noise_texture(4)/no_change(5) -> specific confident 3 of 4 = 0.75; matches on
    measured directions: d0 2 of 2, d1 1 of 2 -> 0.75; Fleiss: subjects [2 rot], [1 noise, 1 no_change]:
    P_o = (1 + 0) / 2 = 0.5; shares rot 0.5, noise 0.25, no_change 0.25 -> P_e = 0.375; kappa = 0.125 / 0.625 = 0.2.
    B: d0 other(5)/rotation(3), d1 body_size(4) by one annotator -> specific confident 1 of 3; its scorecard is of
    another checksum, so nothing is measured (match share None).
    """
    admin, first, second = _people(store)
    studies = StudyStore(store)
    catalog = FixedCatalog([SET_A, SET_B])
    study = studies.create(admin, [SET_A, SET_B], directions_per_set=2)
    for who, set_id, direction, term, confidence in (
        (first, "hiddenalpha", 0, "breast_size", 2),  # superseded by the next label: only the latest counts
        (first, "hiddenalpha", 0, "rotation", 5),
        (second, "hiddenalpha", 0, "rotation", 4),
        (first, "hiddenalpha", 1, "noise_texture", 4),
        (second, "hiddenalpha", 1, "no_change", 5),
        (first, "hiddenbravo", 0, "other", 5),
        (second, "hiddenbravo", 0, "rotation", 3),
        (first, "hiddenbravo", 1, "body_size", 4),
    ):
        _label_direction(studies, catalog, who, study.id, set_id, direction, term, confidence)
    assert measured_terms(SCORECARD, "hiddenalpha", "1" * 64) == {0: {"rotation"}, 1: {"noise_texture"}}
    detail = studies.detail(study.id)
    alpha, bravo = study_results(detail, studies.items(study.id), studies.answers(study.id), SCORECARD)
    assert (alpha.set, alpha.method, alpha.directions, alpha.annotators, alpha.labels) == ("hiddenalpha", "sefa", 2, 2, 4)
    assert alpha.specific_confident_share == pytest.approx(0.75)
    assert alpha.fleiss_kappa == pytest.approx(0.2)
    assert (alpha.measured_directions, alpha.measured_labels, alpha.scorecard_matches) == (2, 4, 3)
    assert alpha.scorecard_match_share == pytest.approx(0.75)
    assert (bravo.labels, bravo.specific_confident) == (3, 1)
    assert bravo.specific_confident_share == pytest.approx(1 / 3)
    assert bravo.measured_directions == 0 and bravo.scorecard_match_share is None
    table = list(csv.DictReader(io.StringIO(results_csv(study.id, [alpha, bravo]))))
    assert table[0]["set"] == "hiddenalpha" and table[0]["fleiss_kappa"] == "0.2"
    assert table[1]["scorecard_match_share"] == ""
    assert results_figure("worked example", [alpha, bravo]).startswith(b"\x89PNG")
