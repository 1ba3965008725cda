"""The label endpoints through real HTTP (uvicorn on a free port, httpx): auth, validation, agreement, export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from latentct.core.config import Settings
from latentct.labels.store import LabelStore, open_label_store
from tests.labels.label_server_app import FixedCatalog, build_app
from tests.labels.label_test_support import ADMIN_TOKEN, IDENTITY, OTHER, make_store, serve_in_thread

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GOOD_LABEL = {
    "model": "gan_demo",
    "set": "sefa",
    "direction": 3,
    "term": "rotation",
    "text": "",
    "confidence": 4,
    "polarity": "clockwise",
}


@pytest.fixture
def server(sqlite_store: LabelStore) -> Iterator[tuple[httpx.Client, LabelStore]]:
    with (
        serve_in_thread(build_app(sqlite_store, FixedCatalog([IDENTITY, OTHER]))) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield client, sqlite_store


def _new_annotator(client: httpx.Client, name: str = "Dr A", role: str = "annotator") -> dict[str, str]:
    response = client.post("/api/annotators", json={"name": name, "role": role}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "role", "token"} and body["role"] == role
    return {"Authorization": f"Bearer {body['token']}"}


def test_vocabulary_is_public(server: tuple[httpx.Client, LabelStore]) -> None:
    client, _ = server
    terms = client.get("/api/vocabulary").json()
    assert [term["id"] for term in terms][:3] == ["rotation", "breast_size", "body_thickness"]
    assert {"id", "name", "description"} <= set(terms[0])


def test_tokens_401_and_roles_403(server: tuple[httpx.Client, LabelStore]) -> None:
    client, _ = server
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
        response = client.post("/api/labels", json=GOOD_LABEL, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/api/labels", headers=headers).status_code == 401
    annotator = _new_annotator(client)
    assert client.post("/api/annotators", json={"name": "x"}, headers=annotator).status_code == 403
    assert client.get("/api/labels/export?format=csv", headers=annotator).status_code == 403
    assert client.get("/api/annotators/me", headers=annotator).json()["role"] == "annotator"
    second_admin = _new_annotator(client, "Dr Admin", role="admin")
    assert client.post("/api/annotators", json={"name": "Dr B"}, headers=second_admin).status_code == 201


def test_a_label_is_stored_and_returned(server: tuple[httpx.Client, LabelStore]) -> None:
    client, store = server
    annotator = _new_annotator(client)
    response = client.post("/api/labels", json={**GOOD_LABEL, "blinded": True}, headers=annotator)
    assert response.status_code == 201, response.text
    label = response.json()
    assert (
        label["model_checksum"] == IDENTITY.model_checksum and label["set_checksum"] == IDENTITY.set_checksum
    )
    assert (label["direction"], label["term"], label["confidence"], label["polarity"]) == (
        3,
        "rotation",
        4,
        "clockwise",
    )
    assert label["blinded"] is True and label["current"] is True and label["created_at"].endswith("Z")
    assert [stored.id for stored in store.list_labels()] == [label["id"]]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"model": "nope"}, 404),
        ({"set": "nope"}, 404),
        ({"direction": 8}, 404),
        ({"direction": -1}, 422),
        ({"direction": "3"}, 422),
        ({"direction": 2**40}, 422),
        ({"term": "tumour"}, 422),
        ({"term": "other", "text": ""}, 422),
        ({"confidence": 0}, 422),
        ({"confidence": 6}, 422),
        ({"confidence": 3.5}, 422),
        ({"confidence": True}, 422),
        ({"confidence": None}, 422),
        ({"text": "x" * 2001}, 422),
        ({"polarity": "p" * 201}, 422),
        ({"text": "a\x00b"}, 422),
        ({"polarity": "line\nbreak"}, 422),
        ({"unexpected": 1}, 422),
        ({"model": ""}, 422),
    ],
)
def test_bad_labels_get_the_contract_status_and_store_nothing(
    server: tuple[httpx.Client, LabelStore], change: dict[str, object], status: int
) -> None:
    client, store = server
    response = client.post("/api/labels", json={**GOOD_LABEL, **change}, headers=ADMIN)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert store.count_labels() == 0


def test_malformed_json_and_lone_surrogates_are_422(server: tuple[httpx.Client, LabelStore]) -> None:
    client, store = server
    headers = {**ADMIN, "Content-Type": "application/json"}
    with_surrogate = json.dumps(GOOD_LABEL)[:-1].encode() + b', "polarity": "\\ud800"}'
    for payload in (b"{not json", b"[1, 2]", b"", b"\xff\xfe", with_surrogate):
        response = client.post("/api/labels", content=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
    assert store.count_labels() == 0


def test_annotators_read_their_own_labels_admins_all(server: tuple[httpx.Client, LabelStore]) -> None:
    client, _ = server
    ann_a, ann_b = _new_annotator(client, "A"), _new_annotator(client, "B")
    for headers, term in ((ann_a, "rotation"), (ann_a, "body_size"), (ann_b, "heart_size")):
        assert (
            client.post("/api/labels", json={**GOOD_LABEL, "term": term}, headers=headers).status_code == 201
        )
    own = client.get("/api/labels", headers=ann_a).json()
    assert [(label["term"], label["current"]) for label in own] == [("rotation", False), ("body_size", True)]
    b_id = client.get("/api/annotators/me", headers=ann_b).json()["id"]
    assert client.get(f"/api/labels?annotator={b_id}", headers=ann_a).status_code == 403
    assert len(client.get("/api/labels", headers=ADMIN).json()) == 3
    assert [label["term"] for label in client.get(f"/api/labels?annotator={b_id}", headers=ADMIN).json()] == [
        "heart_size"
    ]
    assert len(client.get("/api/labels?current=true", headers=ADMIN).json()) == 2
    assert client.get("/api/labels?model=gan_demo&set=sefa&direction=0", headers=ADMIN).json() == []
    for query in ("direction=-1", "direction=99999999999", "limit=0", "model=%00", "annotator=abc"):
        assert client.get(f"/api/labels?{query}", headers=ADMIN).status_code == 422, query


def test_agreement_endpoint(server: tuple[httpx.Client, LabelStore]) -> None:
    client, _ = server
    annotators = [_new_annotator(client, name) for name in ("A", "B", "C")]
    for headers, (term0, term1) in zip(
        annotators,
        [("rotation", "body_size"), ("rotation", "body_size"), ("rotation", "breast_size")],
        strict=True,
    ):
        client.post("/api/labels", json={**GOOD_LABEL, "direction": 0, "term": term0}, headers=headers)
        client.post("/api/labels", json={**GOOD_LABEL, "direction": 1, "term": term1}, headers=headers)
    # issue 19: a token is required (admins see every direction)
    assert client.get("/api/models/gan_demo/directions/sefa/agreement").status_code == 401
    body = client.get("/api/models/gan_demo/directions/sefa/agreement", headers=ADMIN).json()
    assert len(body["directions"]) == IDENTITY.count
    first = {key: body["directions"][0][key] for key in ("index", "n_labels", "consensus_term", "share")}
    assert first == {"index": 0, "n_labels": 3, "consensus_term": "rotation", "share": 1.0}
    assert body["directions"][1]["consensus_term"] == "body_size"
    assert body["directions"][1]["share"] == pytest.approx(2 / 3)
    third = {key: body["directions"][2][key] for key in ("index", "n_labels", "consensus_term", "share")}
    assert third == {"index": 2, "n_labels": 0, "consensus_term": None, "share": None}
    assert -1.0 <= body["fleiss_kappa"] <= 1.0 and -1.0 <= body["krippendorff_alpha"] <= 1.0
    assert client.get("/api/models/nope/directions/sefa/agreement", headers=ADMIN).status_code == 404
    assert client.get("/api/models/gan_demo/directions/nope/agreement", headers=ADMIN).status_code == 404


def test_export_csv_and_json(server: tuple[httpx.Client, LabelStore]) -> None:
    client, _ = server
    annotator = _new_annotator(client)
    client.post("/api/labels", json={**GOOD_LABEL, "text": "=HYPERLINK(1)"}, headers=annotator)
    client.post(
        "/api/labels", json={**GOOD_LABEL, "term": "other", "text": 'a, "quoted"\nline'}, headers=annotator
    )
    as_csv = client.get("/api/labels/export?format=csv", headers=ADMIN)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["term"] for row in rows] == ["rotation", "other"]
    assert rows[0]["text"] == "'=HYPERLINK(1)"  # kept as text by spreadsheets
    assert rows[1]["text"] == 'a, "quoted"\nline' and rows[1]["current"] == "True"
    as_json = client.get("/api/labels/export?format=json", headers=ADMIN).json()["labels"]
    assert [label["text"] for label in as_json] == ["=HYPERLINK(1)", 'a, "quoted"\nline']
    assert client.get("/api/labels/export?format=xml", headers=ADMIN).status_code == 422


def test_a_database_that_is_down_answers_503_with_retry_after() -> None:
    down = open_label_store(
        Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/test", admin_token=ADMIN_TOKEN)
    )
    with serve_in_thread(build_app(down, FixedCatalog([IDENTITY]))) as base_url:
        response = httpx.post(f"{base_url}/api/labels", json=GOOD_LABEL, headers=ADMIN, timeout=30)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
        assert (
            httpx.get(f"{base_url}/api/vocabulary").status_code == 200
        )  # what needs no database still works
    down.close()


def test_eight_concurrent_writers_lose_nothing_and_duplicate_nothing(database_url: str) -> None:
    store = make_store(database_url)
    tokens = [store.create_annotator(f"writer {i}")[1] for i in range(8)]
    per_writer = 25

    def write(token: str) -> list[int]:
        ids = []
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            for n in range(per_writer):
                body = {**GOOD_LABEL, "direction": n % IDENTITY.count, "text": f"{token[:6]}-{n}"}
                response = client.post("/api/labels", json=body)
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
        return ids

    with (
        serve_in_thread(build_app(store, FixedCatalog([IDENTITY]))) as base_url,
        ThreadPoolExecutor(8) as pool,
    ):
        acknowledged = [label_id for ids in pool.map(write, tokens) for label_id in ids]
    stored = store.list_labels()
    assert len(acknowledged) == 8 * per_writer == len(set(acknowledged))
    assert sorted(label.id for label in stored) == sorted(acknowledged)
    assert len({label.text for label in stored}) == len(stored)  # no event written twice
    store.close()
