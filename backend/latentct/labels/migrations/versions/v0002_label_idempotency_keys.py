"""Idempotency keys of label posts: one row per (annotator, key), written in the same transaction as the label.

A new table rather than new columns on `labels`: changing `labels` on SQLite would rebuild it (batch mode) and
drop its append-only triggers.

Revision ID: 0002_label_idempotency_keys
Revises: 0001_initial
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_label_idempotency_keys"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_idempotency_keys",
        sa.Column(
            "annotator_id",
            sa.Integer,
            sa.ForeignKey("annotators.id", ondelete="RESTRICT", name="fk_label_idempotency_keys_annotator_id"),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column(
            "label_id",
            sa.Integer,
            sa.ForeignKey("labels.id", ondelete="RESTRICT", name="fk_label_idempotency_keys_label_id"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # the guard against two concurrent retries: only one (annotator, key) row can ever commit
        sa.PrimaryKeyConstraint("annotator_id", "idempotency_key", name="pk_label_idempotency_keys"),
        sa.UniqueConstraint("label_id", name="uq_label_idempotency_keys_label_id"),
    )


def downgrade() -> None:
    op.drop_table("label_idempotency_keys")
