"""ORM tables of blinded reader studies (schema in migration 0004_reader_studies).

Separate from `tables.py` so that studies never touch the `labels` table: a study label is an ordinary label event
plus one row in `study_labels` naming the study item it answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from latentct.labels.tables import MAX_CHECKSUM_CHARS, MAX_ID_CHARS, Base, UTCDateTime

MAX_STUDY_NAME_CHARS = 200
ITEM_ID_CHARS = 16  # opaque item ids: random hex, never derived from the set


class StudyRow(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_STUDY_NAME_CHARS))
    model_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    model_checksum: Mapped[str] = mapped_column(String(MAX_CHECKSUM_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"))


class StudySetRow(Base):
    __tablename__ = "study_sets"

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), primary_key=True)
    set_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), primary_key=True)
    set_checksum: Mapped[str] = mapped_column(String(MAX_CHECKSUM_CHARS))


class StudyItemRow(Base):
    __tablename__ = "study_items"
    __table_args__ = (
        ForeignKeyConstraint(["study_id", "set_id"], ["study_sets.study_id", "study_sets.set_id"]),
    )

    study_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_CHARS), primary_key=True)
    set_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    direction: Mapped[int] = mapped_column(Integer)


class StudyLabelRow(Base):
    """Which study item a label answers; written after its label, keyed by the label (one item per label)."""

    __tablename__ = "study_labels"
    __table_args__ = (
        ForeignKeyConstraint(["study_id", "item_id"], ["study_items.study_id", "study_items.item_id"]),
        Index("ix_study_labels_study_item", "study_id", "item_id"),
    )

    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="RESTRICT"), primary_key=True)
    study_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_CHARS))
