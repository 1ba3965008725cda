"""A label's sign (does a positive shift move the term in its positive sense?) and the context the annotator saw.

Both columns are added with ADD COLUMN, nullable, no default: existing labels keep sign unknown (NULL) and no
context. ADD COLUMN is a plain ALTER on SQLite too; batch mode (a table rebuild) would drop the append-only
triggers of v0001, which this migration must keep.

Revision ID: 0003_label_sign_context
Revises: 0002_label_idempotency_keys
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_label_sign_context"
down_revision = "0002_label_idempotency_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # +1 / -1, NULL = unknown (labels from before signs, and terms without a positive sense)
    op.add_column("labels", sa.Column("sign", sa.SmallInteger, nullable=True))
    # JSON text {"window", "seeds", "extent", "steps"}: what the annotator saw, NULL when not sent
    op.add_column("labels", sa.Column("context", sa.Text, nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no table rebuild), so the triggers stay here too
    op.drop_column("labels", "context")
    op.drop_column("labels", "sign")
