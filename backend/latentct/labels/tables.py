"""ORM tables of the label store: annotators and append-only label events (the schema itself lives in migrations)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ROLES = ("annotator", "admin")
MAX_ANNOTATOR_NAME_CHARS = 200
MAX_ID_CHARS = 128  # model and set ids
MAX_TEXT_CHARS = 2000
MAX_POLARITY_CHARS = 200
MAX_TERM_CHARS = 64
MAX_CHECKSUM_CHARS = 128  # hex sha256 is 64; room for a "sha256:" prefix
TOKEN_HASH_CHARS = 64  # hex sha256
MAX_IDEMPOTENCY_KEY_CHARS = 255


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset, so it stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class AnnotatorRow(Base):
    __tablename__ = "annotators"
    __table_args__ = (CheckConstraint("role IN ('annotator', 'admin')", name="ck_annotators_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_ANNOTATOR_NAME_CHARS))
    role: Mapped[str] = mapped_column(String(16))
    # sha256 hex of the bearer token; the token itself is never stored
    token_sha256: Mapped[str | None] = mapped_column(String(TOKEN_HASH_CHARS), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # 1 for the single annotator behind LATENTCT_ADMIN_TOKEN, NULL for everyone else (unique: at most one row)
    bootstrap_slot: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)


class LabelRow(Base):
    """One label event. Rows are never updated or deleted (database triggers refuse it)."""

    __tablename__ = "labels"
    __table_args__ = (
        CheckConstraint("confidence BETWEEN 1 AND 5", name="ck_labels_confidence"),
        CheckConstraint("direction_index >= 0", name="ck_labels_direction_index"),
        Index("ix_labels_set_direction", "set_checksum", "direction_index", "annotator_id", "id"),
        Index("ix_labels_model_set", "model_id", "set_id"),
        Index("ix_labels_annotator", "annotator_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    model_checksum: Mapped[str] = mapped_column(String(MAX_CHECKSUM_CHARS))
    set_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    set_checksum: Mapped[str] = mapped_column(String(MAX_CHECKSUM_CHARS))
    direction_index: Mapped[int] = mapped_column(Integer)
    term: Mapped[str] = mapped_column(String(MAX_TERM_CHARS))
    text: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[int] = mapped_column(Integer)
    polarity: Mapped[str] = mapped_column(String(MAX_POLARITY_CHARS), default="")
    blinded: Mapped[bool] = mapped_column(Boolean, default=False)
    # v0003: +1 / -1 against the term's positive sense, NULL unknown; the context as canonical JSON text, NULL if not sent
    sign: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    context: Mapped[str | None] = mapped_column(Text, nullable=True)


class LabelIdempotencyKeyRow(Base):
    """The Idempotency-Key a label was posted with, written in the label's own transaction.

    The primary key (annotator_id, idempotency_key) is the guard: of two requests racing with one key, the second
    cannot insert and rolls its label back with it. `request_sha256` tells a retry (same body) from a key reused
    for a different label.
    """

    __tablename__ = "label_idempotency_keys"

    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(MAX_IDEMPOTENCY_KEY_CHARS), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(TOKEN_HASH_CHARS))
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="RESTRICT"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
