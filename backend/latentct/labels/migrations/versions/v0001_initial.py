"""Initial label store: annotators, append-only label events (UPDATE and DELETE refused by triggers).

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER labels_append_only_update BEFORE UPDATE ON labels
       BEGIN SELECT RAISE(ABORT, 'labels are append-only: post a new label instead of updating'); END""",
    """CREATE TRIGGER labels_append_only_delete BEFORE DELETE ON labels
       BEGIN SELECT RAISE(ABORT, 'labels are append-only: they are never deleted'); END""",
)
_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION labels_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'labels are append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER labels_append_only BEFORE UPDATE OR DELETE ON labels
       FOR EACH ROW EXECUTE FUNCTION labels_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bootstrap_slot", sa.Integer, nullable=True),
        sa.CheckConstraint("role IN ('annotator', 'admin')", name="ck_annotators_role"),
        sa.UniqueConstraint("token_sha256", name="uq_annotators_token_sha256"),
        sa.UniqueConstraint("bootstrap_slot", name="uq_annotators_bootstrap_slot"),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "annotator_id",
            sa.Integer,
            sa.ForeignKey("annotators.id", ondelete="RESTRICT", name="fk_labels_annotator_id"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("model_checksum", sa.String(128), nullable=False),
        sa.Column("set_id", sa.String(128), nullable=False),
        sa.Column("set_checksum", sa.String(128), nullable=False),
        sa.Column("direction_index", sa.Integer, nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("confidence", sa.Integer, nullable=False),
        sa.Column("polarity", sa.String(200), nullable=False),
        sa.Column("blinded", sa.Boolean, nullable=False),
        sa.CheckConstraint("confidence BETWEEN 1 AND 5", name="ck_labels_confidence"),
        sa.CheckConstraint("direction_index >= 0", name="ck_labels_direction_index"),
    )
    op.create_index(
        "ix_labels_set_direction", "labels", ["set_checksum", "direction_index", "annotator_id", "id"]
    )
    op.create_index("ix_labels_model_set", "labels", ["model_id", "set_id"])
    op.create_index("ix_labels_annotator", "labels", ["annotator_id"])
    triggers = _POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS labels_append_only ON labels")
        op.execute("DROP FUNCTION IF EXISTS labels_append_only()")
    op.drop_table("labels")
    op.drop_table("annotators")
