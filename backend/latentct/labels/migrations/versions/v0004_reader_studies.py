"""Blinded reader studies: studies, their sets, opaque items, and the link from a label to the item it answers.

New tables only: `labels` is not altered (on SQLite that would rebuild it and drop its append-only triggers).

Revision ID: 0004_reader_studies
Revises: 0003_label_sign_context
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_reader_studies"
down_revision = "0003_label_sign_context"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("model_checksum", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer,
            sa.ForeignKey("annotators.id", ondelete="RESTRICT", name="fk_studies_created_by"),
            nullable=False,
        ),
    )
    op.create_table(
        "study_sets",
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="RESTRICT", name="fk_study_sets_study_id"),
            nullable=False,
        ),
        sa.Column("set_id", sa.String(128), nullable=False),
        sa.Column("set_checksum", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("study_id", "set_id", name="pk_study_sets"),
    )
    op.create_table(
        "study_items",
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(16), nullable=False),
        sa.Column("set_id", sa.String(128), nullable=False),
        sa.Column("direction", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("study_id", "item_id", name="pk_study_items"),
        sa.ForeignKeyConstraint(
            ["study_id", "set_id"], ["study_sets.study_id", "study_sets.set_id"], name="fk_study_items_set"
        ),
        sa.CheckConstraint("direction >= 0", name="ck_study_items_direction"),
    )
    op.create_table(
        "study_labels",
        sa.Column(
            "label_id",
            sa.Integer,
            sa.ForeignKey("labels.id", ondelete="RESTRICT", name="fk_study_labels_label_id"),
            nullable=False,
        ),
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("label_id", name="pk_study_labels"),
        sa.ForeignKeyConstraint(
            ["study_id", "item_id"], ["study_items.study_id", "study_items.item_id"], name="fk_study_labels_item"
        ),
    )
    op.create_index("ix_study_labels_study_item", "study_labels", ["study_id", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_study_labels_study_item", table_name="study_labels")
    op.drop_table("study_labels")
    op.drop_table("study_items")
    op.drop_table("study_sets")
    op.drop_table("studies")
