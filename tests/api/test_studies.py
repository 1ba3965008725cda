"""Reader study endpoints on the real app (tiny-gan, sets `random` and `sefa`): who may do what, and that nothing an
annotator can request names a set."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import LiveServer, settings_for

ADMIN_TOKEN = "FRPDxa8mUACBVwF3w9Ud2LVFGzSBKSDdoPwp0DJLDcs"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SETS = ("random", "sefa")


@pytest.fixture(scope="module")
def study_server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("studies")
    settings = settings_for(root, models_dir, admin_token=ADMIN_TOKEN, database_url=f"sqlite:///{root / 'l.sqlite3'}")
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def http(study_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=study_server.base_url, timeout=60) as client:
        yield client


def _annotator(http: httpx.Client, name: str, role: str = "annotator") -> dict[str, str]:
    response = http.post("/api/annotators", json={"name": name, "role": role}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _create(http: httpx.Client, headers: dict[str, str], **extra: object) -> httpx.Response:
    body = {"model": "tiny-gan", "sets": list(SETS), "name": "blinded pilot", "directions_per_set": 2, **extra}
    return http.post("/api/studies", json=body, headers=headers)


def _assert_hidden(response: httpx.Response) -> None:
    """No set id in the body, the header names or values, or the URL."""
    seen = [response.text if "json" in response.headers.get("content-type", "") else response.content.decode("latin-1")]
    seen += [f"{k}: {v}" for k, v in response.headers.items()] + [str(response.url)]
    for set_id in SETS:
        assert not any(set_id in text.lower() for text in seen), (set_id, response.url, response.headers)


def test_only_admins_create_studies_and_read_results(http: httpx.Client) -> None:
    annotator = _annotator(http, "Dr Plain")
    assert _create(http, {}).status_code == 401
    assert _create(http, {"Authorization": "Bearer nope"}).status_code == 401
    assert _create(http, annotator).status_code == 403
    created = _create(http, ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert [s["set"] for s in body["sets"]] == list(SETS) and body["items"] == 4
    study_id = body["id"]
    assert http.get(f"/api/studies/{study_id}/results").status_code == 401
    assert http.get(f"/api/studies/{study_id}/results", headers=annotator).status_code == 403
    assert http.get(f"/api/studies/{study_id}", headers={}).status_code == 401
    assert http.get("/api/studies/999999", headers=annotator).status_code == 404
    bad = _create(http, ADMIN, sets=["sefa", "nosuchset"])
    assert bad.status_code == 404
    assert _create(http, ADMIN, name="random vs sefa").status_code == 422
    assert _create(http, ADMIN, sets=["sefa"]).status_code == 422


def test_an_annotator_labels_items_without_learning_their_set(http: httpx.Client) -> None:
    study_id = _create(http, ADMIN).json()["id"]
    annotator = _annotator(http, "Dr Blind")
    listed = http.get("/api/studies", headers=annotator)
    _assert_hidden(listed)
    study = http.get(f"/api/studies/{study_id}", headers=annotator)
    _assert_hidden(study)
    assert study.json()["items"] == 4 and study.json()["labelled"] == 0
    items = http.get(f"/api/studies/{study_id}/items", headers=annotator)
    _assert_hidden(items)
    order = [item["item"] for item in items.json()]
    assert order[0] == study.json()["next_item"]
    strip = http.get(
        f"/api/studies/{study_id}/items/{order[0]}/traversal.png", params={"seed": 3, "steps": 5}, headers=annotator
    )
    assert strip.status_code == 200, strip.text
    assert strip.headers["content-type"] == "image/png" and "etag" not in strip.headers
    assert len(strip.headers["x-shift-values"].split(",")) == 5
    _assert_hidden(strip)
    assert http.get(f"/api/studies/{study_id}/items/{order[0]}/traversal.png").status_code == 401
    missing = http.get(f"/api/studies/{study_id}/items/{'0' * 16}/traversal.png", headers=annotator)
    assert missing.status_code == 404
    _assert_hidden(missing)
    for item_id in order[:2]:
        label = http.post(
            f"/api/studies/{study_id}/items/{item_id}/label",
            json={"term": "rotation", "confidence": 4, "polarity": "clockwise", "sign": 1,
                  "context": {"window": "lung", "seeds": [3], "extent": 6.0, "steps": 5}},
            headers={**annotator, "Idempotency-Key": f"k-{item_id}"},
        )
        assert label.status_code == 201, label.text
        assert label.json()["blinded"] is True and label.json()["item"] == item_id and label.json()["sign"] == 1
        _assert_hidden(label)
    invalid = http.post(f"/api/studies/{study_id}/items/{order[2]}/label", json={"term": "nope", "confidence": 4},
                        headers=annotator)
    assert invalid.status_code == 422
    _assert_hidden(invalid)
    assert http.get(f"/api/studies/{study_id}", headers=annotator).json()["labelled"] == 2
    results = http.get(f"/api/studies/{study_id}/results", headers=ADMIN)
    assert results.status_code == 200, results.text
    methods = results.json()["methods"]
    assert [m["set"] for m in methods] == list(SETS) and sum(m["labels"] for m in methods) == 2
    table = list(csv.DictReader(io.StringIO(http.get(f"/api/studies/{study_id}/results?format=csv", headers=ADMIN).text)))
    assert [row["set"] for row in table] == list(SETS)
    figure = http.get(f"/api/studies/{study_id}/results?format=png", headers=ADMIN)
    assert figure.status_code == 200 and figure.content.startswith(b"\x89PNG")


def test_the_label_listing_does_not_reveal_what_a_study_hides(http: httpx.Client) -> None:
    """GET /api/labels would name the set and direction of each study answer: an annotator's listing leaves them out
    (their own labels outside the study stay listed); an admin's listing has them all."""
    study_id = _create(http, ADMIN).json()["id"]
    annotator = _annotator(http, "Dr Curious")
    item_id = http.get(f"/api/studies/{study_id}/items", headers=annotator).json()[0]["item"]
    answer = http.post(f"/api/studies/{study_id}/items/{item_id}/label", json={"term": "rotation", "confidence": 4},
                       headers=annotator)
    assert answer.status_code == 201, answer.text
    outside = http.post("/api/labels", json={"model": "tiny-gan", "set": "sefa", "direction": 0, "term": "artefact",
                                             "text": "ring", "confidence": 2}, headers=annotator)
    assert outside.status_code == 201, outside.text
    own = http.get("/api/labels", headers=annotator)
    assert own.status_code == 200 and [label["id"] for label in own.json()] == [outside.json()["id"]]
    assert http.get("/api/labels", params={"set": "sefa", "current": True}, headers=annotator).json()[0]["term"] == "artefact"
    everything = {label["id"] for label in http.get("/api/labels", headers=ADMIN, params={"limit": 5000}).json()}
    assert {answer.json()["id"], outside.json()["id"]} <= everything
