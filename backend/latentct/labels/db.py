"""Database plumbing of the label store: engine per URL (SQLite pragmas, PostgreSQL pool) and safe migrations."""

from __future__ import annotations

import logging
import sqlite3
import time
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from latentct.core.errors import InvalidInputError
from latentct.labels.errors import LabelStoreUnavailableError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Key of the PostgreSQL advisory lock that serialises migrations of replicas starting together ("LCTLABEL").
MIGRATION_ADVISORY_LOCK_KEY = 0x4C43544C4142454C
# Execution option that makes a SQLite transaction take the write lock at BEGIN, so concurrent writers queue
# on the busy timeout instead of failing when a read lock cannot be upgraded.
WRITE_OPTION = "latentct_write"


def create_label_engine(database_url: str) -> Engine:
    """Engine for `database_url`: SQLite (file, WAL, busy timeout, foreign keys) or PostgreSQL (pre-ping pool)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise InvalidInputError(
            f"database URL {database_url!r} is not a valid SQLAlchemy URL; use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, url.database)
    if url.get_backend_name() == "postgresql":
        if url.get_driver_name() not in ("psycopg", ""):
            raise InvalidInputError(
                f"database URL driver {url.drivername!r} is not supported; use postgresql+psycopg"
            )
        url = url.set(drivername="postgresql+psycopg")
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"connect_timeout": 5}
        )
    raise InvalidInputError(
        f"database URL {database_url!r} uses {url.get_backend_name()!r}; allowed: sqlite, postgresql+psycopg"
    )


def _sqlite_engine(database_url: str, database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise InvalidInputError(
            f"database URL {database_url!r} must name a SQLite file (several connections share it), e.g. sqlite:///var/labels.sqlite3"
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that BEGIN below is what starts transactions
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        # FULL: a committed label survives power loss too, not only a killed process
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """PRAGMA journal_mode = WAL, retried for up to the busy timeout.

    Turning a fresh database to WAL needs it free of other connections' locks, and SQLite answers "database is locked"
    at once there instead of waiting on the busy timeout: two processes opening a new label database together (two
    workers of one server) failed about one time in five.
    """
    deadline, delay = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000, 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration built in code from the packaged migrations; no alembic.ini needed."""
    migrations = resources.files("latentct.labels").joinpath("migrations")
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine) -> str | None:
    """Run pending migrations; idempotent, and safe when several processes start at once.

    PostgreSQL: a transaction-scoped advisory lock serialises the upgraders. SQLite: the migration runs in one
    BEGIN IMMEDIATE transaction, so a second process waits on the file lock (busy timeout) and then finds the
    schema at head. Returns the revision reached.
    """
    config = alembic_config(engine)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _signed64(MIGRATION_ADVISORY_LOCK_KEY)},
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            revision = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise LabelStoreUnavailableError(f"cannot migrate the label database: {_short(exc)}") from exc
    log.info("label database at revision %s", revision)
    return revision


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def _short(exc: BaseException) -> str:
    """First line of a driver error, without SQLAlchemy's appended statement and background link."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
