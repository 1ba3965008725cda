"""Migration 0003 on a database at 0002 that holds labels: signs unknown, no context, triggers still refuse changes."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from latentct.labels.agreement import Vote
from latentct.labels.db import alembic_config, create_label_engine, current_revision, head_revision
from tests.labels.label_test_support import ADMIN_TOKEN, IDENTITY, make_store


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _fill_at_0002(engine: Engine) -> None:
    """Two annotators and three label events as a server at 0002 wrote them."""
    _upgrade(engine, "0002_label_idempotency_keys")
    with engine.begin() as connection:
        for name in ("A", "B"):
            connection.execute(
                text("INSERT INTO annotators (name, role, created_at) VALUES (:name, 'annotator', CURRENT_TIMESTAMP)"),
                {"name": name},
            )
        ids = [row[0] for row in connection.execute(text("SELECT id FROM annotators ORDER BY id"))]
        for annotator_id, term in ((ids[0], "rotation"), (ids[1], "rotation"), (ids[0], "body_size")):
            connection.execute(
                text(
                    "INSERT INTO labels (annotator_id, created_at, model_id, model_checksum, set_id, set_checksum, "
                    "direction_index, term, text, confidence, polarity, blinded) VALUES (:a, CURRENT_TIMESTAMP, "
                    ":m, :mc, :s, :sc, 0, :term, '', 4, 'clockwise', true)"
                ),
                {"a": annotator_id, "m": IDENTITY.model_id, "mc": IDENTITY.model_checksum, "s": IDENTITY.set_id,
                 "sc": IDENTITY.set_checksum, "term": term},
            )


def test_labels_from_0002_migrate_with_sign_unknown_and_keep_their_triggers(database_url: str) -> None:
    engine = create_label_engine(database_url)
    _fill_at_0002(engine)
    _upgrade(engine, "0003_label_sign_context")
    assert current_revision(engine) == "0003_label_sign_context"
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT term, sign, context FROM labels ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [("rotation", None, None), ("rotation", None, None), ("body_size", None, None)]
    for statement in ("UPDATE labels SET sign = 1", "DELETE FROM labels"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()

    store = make_store(database_url, admin_token=ADMIN_TOKEN)  # the rest of the chain, as a server starts
    assert current_revision(store.engine) == head_revision(store.engine)
    labels = store.list_labels()
    assert [(label.term, label.sign, label.context) for label in labels] == [
        ("rotation", None, None), ("rotation", None, None), ("body_size", None, None)
    ]
    # the superseded rotation of A is gone from the current labels; old labels count as "(term, ?)"
    agreement = store.agreement(IDENTITY)
    assert agreement.directions[0].consensus.tied == (("body_size", None), ("rotation", None))
    assert sorted(agreement.directions[0].votes) == sorted([Vote(1, 0, "body_size", None), Vote(2, 0, "rotation", None)])
    annotator = store.list_annotators()[0]
    new = store.add_label(annotator, IDENTITY, 0, "rotation", confidence=5, sign=1)
    assert (new.sign, new.blinded) == (1, False)  # A labelled before and B's label existed: not blinded
    store.close()
