"""Fixtures of the label tests: a real database per test (SQLite file always, PostgreSQL schema when it answers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from latentct.labels.store import LabelStore
from tests.labels.label_test_support import POSTGRES_URL, make_store


@pytest.fixture(scope="session")
def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL at 127.0.0.1:5432 db `test` answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 (database test) does not answer: {str(exc).strip()[:200]}"
    return None


@pytest.fixture
def postgres_url(postgres_unavailable_reason: str | None) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped afterwards (tests are isolated and repeatable)."""
    if postgres_unavailable_reason:
        pytest.skip(postgres_unavailable_reason)
    import psycopg

    schema = f"lt_labels_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'labels.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(database_url: str) -> Iterator[LabelStore]:
    label_store = make_store(database_url)
    yield label_store
    label_store.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[LabelStore]:
    label_store = make_store(sqlite_url)
    yield label_store
    label_store.close()
