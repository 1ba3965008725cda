"""Issue 19 in the label store and API: positive senses and signs, context, (term, sign) agreement, ties,
"others" without the caller, the server's own `blinded`, and blinding of consensus and measured hints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from latentct.labels.agreement import DirectionAgreement, Vote, consensus_of_categories, fleiss_kappa, set_agreement
from latentct.labels.blinding import visible_metrics
from latentct.labels.store import Annotator, LabelStore
from tests.labels.label_server_app import FixedCatalog, build_app
from tests.labels.label_test_support import ADMIN_TOKEN, IDENTITY, serve_in_thread

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGREEMENT = "/api/models/gan_demo/directions/sefa/agreement"
CONTEXT = {"window": "lung", "seeds": [0, 1, 2], "extent": 6, "steps": 9}
SENSES = {
    "rotation": "clockwise as displayed",
    "breast_size": "larger",
    "body_thickness": "thicker",
    "body_size": "larger",
    "vertical_position": "anterior",
    "horizontal_position": "towards the patient's left",
    "slice_level": "towards the feet",
    "lung_volume": "larger",
    "heart_size": "larger",
    "brightness_contrast": "brighter",
    "noise_texture": None,
    "artefact": None,
    "entangled": None,
    "no_change": None,
    "other": None,
}


@pytest.fixture
def client(sqlite_store: LabelStore) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(build_app(sqlite_store, FixedCatalog([IDENTITY]))) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        yield http


def _annotator(client: httpx.Client, name: str, role: str = "annotator") -> dict[str, str]:
    response = client.post("/api/annotators", json={"name": name, "role": role}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _label(client: httpx.Client, headers: dict[str, str], direction: int, term: str, **extra: Any) -> dict[str, Any]:
    body = {"model": "gan_demo", "set": "sefa", "direction": direction, "term": term, "confidence": 4, **extra}
    if term == "other":
        body.setdefault("text", "something")
    response = client.post("/api/labels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_every_term_with_a_sense_names_its_positive_sense(client: httpx.Client) -> None:
    terms = client.get("/api/vocabulary").json()
    assert {term["id"]: term["positive"] for term in terms} == SENSES
    horizontal = next(term for term in terms if term["id"] == "horizontal_position")
    assert "radiological convention" in horizontal["description"]


def test_sign_is_optional_and_refused_on_terms_without_a_sense(client: httpx.Client) -> None:
    annotator = _annotator(client, "A")
    assert _label(client, annotator, 0, "rotation", sign=-1)["sign"] == -1
    assert _label(client, annotator, 1, "rotation")["sign"] is None  # unknown: older clients
    assert _label(client, annotator, 2, "artefact", sign=None)["sign"] is None
    body = {"model": "gan_demo", "set": "sefa", "direction": 3, "confidence": 3}
    refused = client.post("/api/labels", json={**body, "term": "artefact", "sign": 1}, headers=annotator)
    assert refused.status_code == 422 and "'artefact'" in refused.json()["detail"]
    for sign in (0, 2, True, "1", 1.0):
        response = client.post("/api/labels", json={**body, "term": "rotation", "sign": sign}, headers=annotator)
        assert response.status_code == 422, sign
        assert "sign" in response.json()["detail"]
    assert len(client.get("/api/labels", headers=annotator).json()) == 3


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"window": "liver"}, "liver"),
        ({"window": "0,40"}, "0,40"),
        ({"seeds": list(range(17))}, "seeds"),
        ({"seeds": []}, "seeds"),
        ({"seeds": [-1]}, "-1"),
        ({"seeds": [2**31]}, "2147483648"),
        ({"extent": 0}, "extent"),
        ({"extent": 30.5}, "30.5"),
        ({"steps": 1}, "steps"),
        ({"steps": 65}, "65"),
        ({"steps": 9.5}, "9.5"),
        ({"zoom": 2}, "zoom"),
    ],
)
def test_context_is_validated_naming_the_value(client: httpx.Client, change: dict[str, Any], named: str) -> None:
    annotator = _annotator(client, "A")
    body = {"model": "gan_demo", "set": "sefa", "direction": 0, "term": "rotation", "confidence": 3}
    response = client.post("/api/labels", json={**body, "context": {**CONTEXT, **change}}, headers=annotator)
    assert response.status_code == 422, response.text
    assert "context" in response.json()["detail"] and named in response.json()["detail"]
    assert client.get("/api/labels", headers=annotator).json() == []


def test_context_is_stored_returned_and_exported(client: httpx.Client) -> None:
    annotator = _annotator(client, "A")
    context = {"window": "400,40", "seeds": [7], "extent": 30, "steps": 64}
    label = _label(client, annotator, 0, "rotation", sign=1, context=context)
    assert label["context"] == {"window": "400,40", "seeds": [7], "extent": 30.0, "steps": 64}
    exported = client.get("/api/labels/export?format=json", headers=ADMIN).json()["labels"][0]
    assert (exported["sign"], exported["context"]) == (1, label["context"])
    as_csv = client.get("/api/labels/export?format=csv", headers=ADMIN).text
    assert as_csv.splitlines()[0].endswith(",sign,context")


def test_kappa_and_alpha_count_term_and_sign_worked_example() -> None:
    # direction 0: A says rotation clockwise (+1), B counter-clockwise (-1); direction 1: both body_size larger.
    # Categories (body_size,+1), (rotation,-1), (rotation,+1); table [[0,1,1],[2,0,0]]: P-bar = (0 + 1) / 2 = 0.5,
    # p = (2/4, 1/4, 1/4), P_e = 0.375, kappa = (0.5 - 0.375) / 0.625 = 0.2. Coincidences: o(r-,r+) = o(r+,r-) = 1,
    # o(b,b) = 2, n = 4, alpha = 1 - 3 * 2 / (2 * (2*1 + 2*1 + 1*1)) = 0.4. Ignoring the sign both would be 1.
    votes = [
        Vote("A", 0, "rotation", 1),
        Vote("B", 0, "rotation", -1),
        Vote("A", 1, "body_size", 1),
        Vote("B", 1, "body_size", 1),
    ]
    agreement = set_agreement(votes, direction_count=2)
    assert agreement.fleiss_kappa == pytest.approx(0.2)
    assert agreement.krippendorff_alpha == pytest.approx(0.4)
    rotation = agreement.directions[0].consensus
    assert (rotation.term, rotation.sign, rotation.share) == (None, None, 0.5)
    assert rotation.tied == (("rotation", -1), ("rotation", 1))
    unsigned = set_agreement([Vote(v.annotator, v.direction, v.term) for v in votes], direction_count=2)
    assert unsigned.fleiss_kappa == pytest.approx(1.0) and unsigned.directions[0].consensus.term == "rotation"
    assert fleiss_kappa([[0, 1, 1], [2, 0, 0]]) == pytest.approx(0.2)


def test_an_unknown_sign_is_its_own_category() -> None:
    consensus = consensus_of_categories([("rotation", 1), ("rotation", None), ("rotation", 1)])
    assert (consensus.term, consensus.sign, consensus.share) == ("rotation", 1, pytest.approx(2 / 3))
    tie = consensus_of_categories([("rotation", 1), ("rotation", None)])
    assert tie.term is None and tie.tied == (("rotation", None), ("rotation", 1))


def test_clockwise_against_counter_clockwise_is_a_named_tie_over_http(client: httpx.Client) -> None:
    first, second = _annotator(client, "A"), _annotator(client, "B")
    _label(client, first, 0, "rotation", sign=1)
    _label(client, second, 0, "rotation", sign=-1)
    _label(client, first, 1, "body_size", sign=1)
    _label(client, second, 1, "body_size", sign=1)
    body = client.get(AGREEMENT, headers=ADMIN).json()
    rotation = body["directions"][0]
    assert (rotation["consensus_term"], rotation["consensus_sign"], rotation["share"]) == (None, None, 0.5)
    assert rotation["tie"] == [{"term": "rotation", "sign": -1}, {"term": "rotation", "sign": 1}]
    assert rotation["consensus_terms"] == ["rotation"]
    size = body["directions"][1]
    assert (size["consensus_term"], size["consensus_sign"], size["share"], size["tie"]) == ("body_size", 1, 1.0, [])
    assert body["fleiss_kappa"] == pytest.approx(0.2) and body["krippendorff_alpha"] == pytest.approx(0.4)


def test_a_tie_of_terms_names_them(client: httpx.Client) -> None:
    first, second = _annotator(client, "A"), _annotator(client, "B")
    _label(client, first, 0, "heart_size", sign=1)
    _label(client, second, 0, "lung_volume", sign=1)
    row = client.get(AGREEMENT, headers=first).json()["directions"][0]
    assert row["consensus_term"] is None
    assert row["tie"] == [{"term": "heart_size", "sign": 1}, {"term": "lung_volume", "sign": 1}]
    assert row["consensus_terms"] == ["heart_size", "lung_volume"]


def test_agreement_blinding_matrix(client: httpx.Client) -> None:
    labelled, fresh = _annotator(client, "labelled"), _annotator(client, "fresh")
    other = _annotator(client, "other")
    _label(client, other, 0, "slice_level", sign=1, text="caudal")
    _label(client, other, 1, "heart_size", sign=-1)
    _label(client, labelled, 0, "slice_level", sign=1, context=CONTEXT)
    assert client.get(AGREEMENT).status_code == 401
    assert client.get(AGREEMENT, headers={"Authorization": "Bearer " + "x" * 43}).status_code == 401

    mine = client.get(AGREEMENT, headers=labelled).json()["directions"]
    assert (mine[0]["consensus_term"], mine[0]["consensus_sign"], mine[0]["consensus_hidden"]) == ("slice_level", 1, False)
    assert (mine[0]["labelled_by_you"], mine[0]["n_labels"], mine[0]["n_others"]) == (True, 2, 1)
    assert mine[0]["others"]["n_labels"] == 1 and mine[0]["others"]["term"] == "slice_level"
    assert mine[0]["labels"] is None  # detail is for admins
    hidden = mine[1]
    assert (hidden["consensus_term"], hidden["share"], hidden["consensus_hidden"], hidden["others"]) == (None, None, True, None)
    assert hidden["tie"] == [] and hidden["n_others"] == 1

    unlabelled = client.get(AGREEMENT, headers=fresh).json()["directions"]
    assert all(row["consensus_hidden"] and row["consensus_term"] is None for row in unlabelled)

    admin = client.get(AGREEMENT, headers=ADMIN).json()["directions"]
    assert admin[1]["consensus_term"] == "heart_size" and admin[1]["consensus_sign"] == -1
    detail = admin[0]["labels"]
    assert [(d["annotator_name"], d["term"], d["sign"], d["confidence"]) for d in detail] == [
        ("labelled", "slice_level", 1, 4),
        ("other", "slice_level", 1, 4),
    ]
    assert detail[0]["context"] == {**CONTEXT, "extent": 6.0} and detail[1]["text"] == "caudal"


def test_the_server_records_blinded_honestly(client: httpx.Client) -> None:
    first, second = _annotator(client, "A"), _annotator(client, "B")
    admin = _annotator(client, "Dr Admin", role="admin")
    assert _label(client, first, 0, "rotation", sign=1, blinded=True)["blinded"] is True  # first label, alone
    assert _label(client, second, 0, "rotation", sign=1)["blinded"] is True  # a first label: shown nothing before
    # a second label after others labelled: the consensus was on show to them
    assert _label(client, first, 0, "rotation", sign=-1, blinded=True)["blinded"] is False
    assert _label(client, admin, 0, "rotation", sign=1, blinded=True)["blinded"] is False  # admins see everything
    assert _label(client, admin, 1, "rotation", sign=1)["blinded"] is True  # nobody else labelled direction 1
    assert _label(client, first, 2, "rotation", sign=1, blinded=False)["blinded"] is False  # the client said no


def _direction(votes: list[Vote]) -> DirectionAgreement:
    return set_agreement(votes, direction_count=1).directions[0]


def test_hints_in_metrics_are_shown_only_to_those_who_may_see_the_consensus() -> None:
    metrics = {"rank": 1, "eigenvalue": 3.0, "best_factor": "rotation", "best_factor_alignment": 0.9, "tracks": "rotation",
               "factor": "rotation", "factor_alignment": {"rotation": 0.9}, "change_hu": 12.0}
    assert visible_metrics(metrics, show_hints=False) == {"rank": 1, "eigenvalue": 3.0, "change_hu": 12.0}
    assert visible_metrics(metrics, show_hints=True) == metrics
    from latentct.api.routes.models import _direction_info

    labelled = _direction([Vote(1, 0, "rotation", 1), Vote(2, 0, "rotation", 1)])
    annotator = Annotator(id=1, name="A", role="annotator", created_at=None)  # type: ignore[arg-type]
    stranger = Annotator(id=3, name="C", role="annotator", created_at=None)  # type: ignore[arg-type]
    admin = Annotator(id=9, name="Admin", role="admin", created_at=None)  # type: ignore[arg-type]
    anonymous = _direction_info(0, metrics, labelled, None)
    assert anonymous.consensus is None and "best_factor" not in anonymous.metrics
    not_yet = _direction_info(0, metrics, labelled, stranger)
    assert not_yet.consensus is None and "tracks" not in not_yet.metrics
    own = _direction_info(0, metrics, labelled, annotator)
    assert own.metrics == metrics and own.consensus is not None
    assert (own.consensus.term, own.consensus.sign, own.consensus.n_labels) == ("rotation", 1, 2)
    assert own.consensus.others is not None and own.consensus.others.n_labels == 1
    assert _direction_info(0, metrics, labelled, admin).consensus is not None
    assert _direction_info(0, metrics, None, admin).metrics == metrics  # label store down: admins keep hints
    assert "factor" not in _direction_info(0, metrics, None, annotator).metrics
