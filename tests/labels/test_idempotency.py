"""Idempotency-Key on label posts: a retry stores nothing new, a reused key with another body is refused, and racing
retries store one row, on a real SQLite file and on PostgreSQL; the key travels through real HTTP too."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from latentct.core.errors import InvalidInputError
from latentct.labels.db import (
    alembic_config,
    create_label_engine,
    current_revision,
    head_revision,
    upgrade_database,
)
from latentct.labels.errors import IdempotencyConflictError
from latentct.labels.store import LabelStore
from tests.labels.label_server_app import FixedCatalog, build_app
from tests.labels.label_test_support import IDENTITY, OTHER, make_store, serve_in_thread

LABEL: dict[str, Any] = {"direction_index": 2, "term": "rotation", "confidence": 4, "polarity": "clockwise"}
BODY = {"model": "gan_demo", "set": "sefa", "direction": 2, "term": "rotation", "confidence": 4, "polarity": "clockwise"}
RACERS = 12


def _rows(store: LabelStore) -> tuple[int, int]:
    """(label rows, idempotency key rows), read straight from the database."""
    with store.engine.connect() as connection:
        labels = connection.execute(text("SELECT count(*) FROM labels")).scalar_one()
        keys = connection.execute(text("SELECT count(*) FROM label_idempotency_keys")).scalar_one()
    return int(labels), int(keys)


# the store ----------------------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_label_and_stores_one_row(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("Dr A")
    first = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="save-1")
    again = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="save-1")
    assert not first.replayed and again.replayed
    assert again.label == first.label
    assert _rows(store) == (1, 1)


def test_the_same_key_with_a_different_body_is_refused_and_stores_nothing(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("Dr A")
    first = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="save-1")
    with pytest.raises(IdempotencyConflictError, match=rf"'save-1' was already used .* label {first.label.id}"):
        store.write_label(annotator, IDENTITY, **{**LABEL, "term": "heart_size"}, idempotency_key="save-1")
    with pytest.raises(IdempotencyConflictError):
        store.write_label(annotator, OTHER, **{**LABEL, "direction_index": 1}, idempotency_key="save-1")
    assert _rows(store) == (1, 1)


def test_keys_belong_to_their_annotator_and_labels_without_a_key_are_stored_each_time(store: LabelStore) -> None:
    first, _ = store.create_annotator("Dr A")
    second, _ = store.create_annotator("Dr B")
    a = store.write_label(first, IDENTITY, **LABEL, idempotency_key="k")
    b = store.write_label(second, IDENTITY, **LABEL, idempotency_key="k")
    assert not b.replayed and a.label.id != b.label.id
    store.add_label(first, IDENTITY, **LABEL)
    store.add_label(first, IDENTITY, **LABEL)
    assert _rows(store) == (4, 2)


def test_a_replay_says_whether_the_label_is_still_current(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("Dr A")
    store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="old")
    store.add_label(annotator, IDENTITY, **{**LABEL, "term": "heart_size"})  # a later label of the same direction
    replay = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="old")
    assert replay.replayed and replay.label.term == "rotation" and not replay.label.current


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "caf\u00e9", " leading", "trailing ", "nul\x00"])
def test_malformed_keys_are_refused_naming_them(store: LabelStore, key: str) -> None:
    annotator, _ = store.create_annotator("Dr A")
    with pytest.raises(InvalidInputError, match="Idempotency-Key"):
        store.write_label(annotator, IDENTITY, **LABEL, idempotency_key=key)
    assert _rows(store) == (0, 0)


def test_keys_of_255_printable_characters_are_allowed(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("Dr A")
    key = ("a b~!" * 60)[:254] + "z"
    assert len(key) == 255
    assert not store.write_label(annotator, IDENTITY, **LABEL, idempotency_key=key).replayed
    assert store.write_label(annotator, IDENTITY, **LABEL, idempotency_key=key).replayed


def test_a_lookup_that_missed_a_concurrent_commit_answers_with_the_committed_label(
    store: LabelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race itself, made deterministic: our lookup ran before the other request committed the key, so our insert
    meets the primary key, rolls back (label included) and the second attempt finds the other request's label."""
    annotator, _ = store.create_annotator("Dr A")
    first = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="race")
    real_lookup = store._earlier_label
    calls: list[int] = []

    def stale_once(*args: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_lookup(*args)

    monkeypatch.setattr(store, "_earlier_label", stale_once)
    again = store.write_label(annotator, IDENTITY, **LABEL, idempotency_key="race")
    assert len(calls) == 2 and again.replayed and again.label.id == first.label.id
    assert _rows(store) == (1, 1)


def test_concurrent_posts_with_one_key_store_one_label(database_url: str) -> None:
    """RACERS stores with their own engines (as separate server processes have) post the same key at once."""
    setup = make_store(database_url)
    annotator, _ = setup.create_annotator("Dr A")
    stores = [make_store(database_url) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)

    def post(racer: LabelStore) -> tuple[int, bool]:
        barrier.wait()
        written = racer.write_label(annotator, IDENTITY, **LABEL, idempotency_key="one-key")
        return written.label.id, written.replayed

    try:
        with ThreadPoolExecutor(RACERS) as pool:
            results = list(pool.map(post, stores))
    finally:
        for racer in stores:
            racer.close()
    assert len({label_id for label_id, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * (RACERS - 1)
    assert _rows(setup) == (1, 1)
    setup.close()


def test_the_migration_keeps_existing_labels_and_their_append_only_triggers(database_url: str) -> None:
    engine = create_label_engine(database_url)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial")
        connection.execute(
            text("INSERT INTO annotators (name, role, created_at) VALUES ('Dr Old', 'annotator', CURRENT_TIMESTAMP)")
        )
        connection.execute(
            text(
                "INSERT INTO labels (annotator_id, created_at, model_id, model_checksum, set_id, set_checksum, "
                "direction_index, term, text, confidence, polarity, blinded) VALUES "
                "(1, CURRENT_TIMESTAMP, 'm', 'c', 's', 'c', 0, 'rotation', 'from 0001', 3, '', false)"
            )
        )
    assert upgrade_database(engine) == current_revision(engine) == head_revision(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT text FROM labels")).scalars().all() == ["from 0001"]
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE labels SET term = 'artefact'"))
    with engine.begin() as connection:  # and back: the downgrades drop only the new tables and columns
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_initial")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM labels")).scalar_one() == 1
    engine.dispose()


# over HTTP ----------------------------------------------------------------------------------------------------


@pytest.fixture
def http(database_url: str) -> Iterator[tuple[httpx.Client, LabelStore, dict[str, str]]]:
    store = make_store(database_url)
    _, token = store.create_annotator("Dr Http")
    with (
        serve_in_thread(build_app(store, FixedCatalog([IDENTITY, OTHER]))) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        yield client, store, {"Authorization": f"Bearer {token}"}
    store.close()


def test_http_a_retry_is_answered_201_with_the_same_label_marked_replayed(
    http: tuple[httpx.Client, LabelStore, dict[str, str]],
) -> None:
    client, store, auth = http
    first = client.post("/api/labels", json=BODY, headers={**auth, "Idempotency-Key": "7f0c-save"})
    again = client.post("/api/labels", json=BODY, headers={**auth, "Idempotency-Key": "7f0c-save"})
    assert first.status_code == again.status_code == 201, again.text
    assert "idempotent-replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _rows(store) == (1, 1)


def test_http_the_same_key_with_another_body_is_409_naming_the_key(
    http: tuple[httpx.Client, LabelStore, dict[str, str]],
) -> None:
    client, store, auth = http
    headers = {**auth, "Idempotency-Key": "7f0c-save"}
    assert client.post("/api/labels", json=BODY, headers=headers).status_code == 201
    conflict = client.post("/api/labels", json={**BODY, "confidence": 2}, headers=headers)
    assert conflict.status_code == 409 and "'7f0c-save' was already used" in conflict.json()["detail"]
    assert _rows(store) == (1, 1)


@pytest.mark.parametrize("key", [b"", b"k" * 256, b"caf\xe9"])
def test_http_a_malformed_key_is_422_naming_it(http: tuple[httpx.Client, LabelStore, dict[str, str]], key: bytes) -> None:
    client, store, auth = http
    response = client.post("/api/labels", json=BODY, headers={**auth, "Idempotency-Key": key})  # type: ignore[dict-item]
    assert response.status_code == 422, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    if key == b"caf\xe9":
        assert "'caf\u00e9'" in response.json()["detail"]
    assert _rows(store) == (0, 0)


def test_http_concurrent_posts_with_one_key_store_one_label(http: tuple[httpx.Client, LabelStore, dict[str, str]]) -> None:
    client, store, auth = http
    barrier = threading.Barrier(RACERS)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            barrier.wait()
            return own.post("/api/labels", json=BODY, headers={**auth, "Idempotency-Key": "racing"})

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(post, range(RACERS)))
    assert [r.status_code for r in responses] == [201] * RACERS
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert _rows(store) == (1, 1)


def test_http_the_schema_declares_the_header_and_its_answers(http: tuple[httpx.Client, LabelStore, dict[str, str]]) -> None:
    client, _, _ = http
    operation = client.get("/openapi.json").json()["paths"]["/api/labels"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and not header.get("required", False)
    assert header["schema"]["maxLength"] == 255 and header["schema"]["pattern"].startswith("^[!-~]")
    assert {"201", "409", "422"} <= set(operation["responses"])


def test_http_sqlite_file_holds_one_label_after_a_retry(tmp_path: Any, sqlite_url: str) -> None:
    """The same check read from the database file with sqlite3 itself, not through the store."""
    store = make_store(sqlite_url)
    _, token = store.create_annotator("Dr File")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "file-check"}
    with serve_in_thread(build_app(store, FixedCatalog([IDENTITY]))) as base_url:
        answers = [httpx.post(f"{base_url}/api/labels", json=BODY, headers=headers, timeout=30) for _ in range(3)]
    store.close()
    assert [a.status_code for a in answers] == [201, 201, 201]
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        assert connection.execute("SELECT id FROM labels").fetchall() == [(answers[0].json()["id"],)]
        assert connection.execute("SELECT idempotency_key, label_id FROM label_idempotency_keys").fetchall() == [
            ("file-check", answers[0].json()["id"])
        ]
