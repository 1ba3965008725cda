"""The label store on real databases: SQLite file always, PostgreSQL (fresh schema) when it answers."""

from __future__ import annotations

import subprocess
import sys
from datetime import timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from latentct.core.config import Settings
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.labels.db import create_label_engine, current_revision, head_revision, upgrade_database
from latentct.labels.errors import LabelStoreUnavailableError
from latentct.labels.store import LabelQuery, LabelStore, consensus_for_set, hash_token, open_label_store
from tests.labels.label_test_support import ADMIN_TOKEN, IDENTITY, OTHER, RETRAINED, make_store, revisions_up_to


def test_migrations_are_idempotent_and_reach_head(store: LabelStore) -> None:
    head = head_revision(store.engine)
    assert head == current_revision(store.engine)
    assert "0003_label_sign_context" in revisions_up_to(store.engine, head)
    assert upgrade_database(store.engine) == head  # second run: nothing to do
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_two_processes_migrating_a_fresh_database_at_once_both_succeed(database_url: str) -> None:
    code = (
        "import sys; from latentct.labels.db import create_label_engine, upgrade_database; "
        "print(upgrade_database(create_label_engine(sys.argv[1])))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    head = head_revision(create_label_engine(database_url))
    assert all(out.decode().strip() == head for out, _err in results)
    engine = create_label_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_tokens_are_stored_only_as_hashes_and_authenticate(store: LabelStore) -> None:
    annotator, token = store.create_annotator("Dr Roe")
    assert len(token) >= 40 and annotator.role == "annotator"
    with store.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT token_sha256 FROM annotators"))]
    assert hash_token(token) in stored and token not in stored
    assert store.authenticate(token) == annotator
    assert store.authenticate(token + "x") is None
    assert store.authenticate("") is None and store.authenticate(None) is None
    store.revoke_annotator(annotator.id)
    assert store.authenticate(token) is None
    with pytest.raises(NotFoundError, match="annotator 999"):
        store.revoke_annotator(999)
    with pytest.raises(InvalidInputError, match="role 'boss'"):
        store.create_annotator("x", "boss")


def test_bootstrap_admin_is_one_row_and_a_new_admin_token_retires_the_old(database_url: str) -> None:
    first = make_store(database_url, admin_token=ADMIN_TOKEN)
    admin = first.authenticate(ADMIN_TOKEN)
    assert admin is not None and admin.is_admin
    first.close()
    second = make_store(database_url, admin_token="9lk9itZYvB-h5Bpnccl-21QhKOyukmhNGv8kR_aTydE")
    assert second.authenticate("9lk9itZYvB-h5Bpnccl-21QhKOyukmhNGv8kR_aTydE") == admin  # same row, same labels
    assert second.authenticate(ADMIN_TOKEN) is None
    assert [a.id for a in second.list_annotators() if a.is_admin] == [admin.id]
    second.close()


def test_labels_are_events_and_the_latest_is_current(store: LabelStore) -> None:
    ann_a, _ = store.create_annotator("A")
    ann_b, _ = store.create_annotator("B")
    first = store.add_label(ann_a, IDENTITY, 2, "rotation", confidence=2, polarity="clockwise", blinded=True)
    assert first.created_at.tzinfo == timezone.utc and first.blinded and first.polarity == "clockwise"
    second = store.add_label(ann_a, IDENTITY, 2, "body_size", text="whole body grows", confidence=4)
    store.add_label(ann_b, IDENTITY, 2, "body_size", confidence=5)
    store.add_label(ann_b, OTHER, 0, "no_change", confidence=3)

    history = store.list_labels(LabelQuery(annotator_id=ann_a.id))
    assert [(label.id, label.term, label.current) for label in history] == [
        (first.id, "rotation", False),
        (second.id, "body_size", True),
    ]
    assert [label.term for label in store.current_labels(IDENTITY)] == ["body_size", "body_size"]
    assert len(store.list_labels(LabelQuery(model_id="gan_demo", set_id="sefa", direction_index=2))) == 3
    assert len(store.list_labels(LabelQuery(model_id="vae_demo"))) == 1
    assert len(store.list_labels(LabelQuery(current_only=True))) == 3
    assert len(store.list_labels(LabelQuery(limit=2, offset=3))) == 1
    assert consensus_for_set(store, IDENTITY) == {2: {"term": "body_size", "sign": None, "share": 1.0, "n_labels": 2}}


def test_a_retrained_set_does_not_inherit_labels(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("A")
    store.add_label(annotator, IDENTITY, 0, "rotation", confidence=5)
    assert consensus_for_set(store, RETRAINED) == {}
    assert store.agreement(RETRAINED).directions[0].consensus.n_labels == 0
    store.add_label(annotator, RETRAINED, 0, "slice_level", confidence=5)
    # the old set keeps its label; both events stay in the history
    assert consensus_for_set(store, IDENTITY)[0]["term"] == "rotation"
    assert [label.set_checksum for label in store.list_labels()] == ["b" * 64, "c" * 64]


def test_agreement_of_a_set_uses_current_labels_only(store: LabelStore) -> None:
    annotators = [store.create_annotator(name)[0] for name in ("A", "B", "C")]
    for annotator in annotators:
        store.add_label(annotator, IDENTITY, 0, "heart_size", confidence=3)
        store.add_label(annotator, IDENTITY, 1, "lung_volume", confidence=3)
    store.add_label(annotators[0], IDENTITY, 1, "artefact", confidence=3)  # superseded below
    store.add_label(annotators[0], IDENTITY, 1, "lung_volume", confidence=3)
    agreement = store.agreement(IDENTITY)
    assert agreement.fleiss_kappa == pytest.approx(1.0)
    assert agreement.krippendorff_alpha == pytest.approx(1.0)
    assert agreement.directions[1].consensus.n_labels == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"direction_index": 8}, NotFoundError, "direction 8 does not exist.*0..7"),
        ({"direction_index": -1}, NotFoundError, "direction -1"),
        ({"term": "tumour"}, InvalidInputError, "unknown term 'tumour'"),
        ({"term": "other"}, InvalidInputError, "needs free text"),
        ({"confidence": 6}, InvalidInputError, "confidence 6.*1..5"),
        ({"confidence": 0}, InvalidInputError, "confidence 0"),
        ({"text": "x" * 2001}, InvalidInputError, "2001 characters; at most 2000"),
        ({"polarity": "p" * 201}, InvalidInputError, "polarity has 201"),
        ({"text": "nul\x00byte"}, InvalidInputError, "control characters"),
        ({"text": "lone \ud800 surrogate"}, InvalidInputError, "not valid Unicode"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_stored(
    store: LabelStore, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    annotator, _ = store.create_annotator("A")
    arguments: dict[str, object] = {"direction_index": 0, "term": "rotation", "confidence": 3, **kwargs}
    with pytest.raises(error, match=message):
        store.add_label(annotator, IDENTITY, **arguments)  # type: ignore[arg-type]
    assert store.count_labels() == 0


def test_the_database_refuses_updates_and_deletes_of_labels(store: LabelStore) -> None:
    annotator, _ = store.create_annotator("A")
    store.add_label(annotator, IDENTITY, 0, "rotation", confidence=3)
    for statement in ("UPDATE labels SET term = 'artefact'", "DELETE FROM labels"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))
    assert [label.term for label in store.list_labels()] == ["rotation"]


def test_foreign_keys_are_enforced(store: LabelStore) -> None:
    with pytest.raises(DBAPIError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO labels (annotator_id, created_at, model_id, model_checksum, set_id, set_checksum, "
                "direction_index, term, text, confidence, polarity, blinded) VALUES "
                "(4242, CURRENT_TIMESTAMP, 'm', 'c', 's', 'c', 0, 'rotation', '', 3, '', false)"
            )
        )


def test_sqlite_pragmas_are_set(sqlite_store: LabelStore) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_a_database_that_does_not_answer_is_a_domain_error_not_a_crash(tmp_path: object) -> None:
    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/test")
    store = open_label_store(settings)  # a server must still start; the store retries on use
    with pytest.raises(LabelStoreUnavailableError, match=r"Connection refused|connection failed"):
        store.list_labels()
    with pytest.raises(LabelStoreUnavailableError):
        store.authenticate("UnkdsUu7lIZdtlMD4kEz4-vBflUWTKtwbtBPXNFiqIs")  # strong: weak ones are refused before the database
    store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "allowed: sqlite, postgresql"),
        ("sqlite://", "must name a SQLite file"),
        ("::", "not a valid"),
    ],
)
def test_bad_database_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        create_label_engine(url)
