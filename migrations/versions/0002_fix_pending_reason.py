"""Fixes can wait on verification: `pending_reason` and the `applied_pending` status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIVE = "('suggested', 'applied_success', 'applied_failed', 'applied_partial', 'dismissed')"
SIX = (
    "('suggested', 'applied_success', 'applied_failed', 'applied_partial', "
    "'applied_pending', 'dismissed')"
)


def upgrade() -> None:
    # On SQLite batch mode copies the table (named CHECKs are reflected and carried over).
    with op.batch_alter_table("suggested_fixes") as batch_op:
        batch_op.add_column(sa.Column("pending_reason", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_suggested_fixes_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_suggested_fixes_status"), f"status IN {SIX}")


def downgrade() -> None:
    # Fixes waiting on verification have no place in the old model: they go back to
    # "applied_partial" with their reason kept as the partial notes.
    op.execute(
        "UPDATE suggested_fixes SET status = 'applied_partial', "
        "partial_notes = COALESCE(partial_notes, 'Waiting to verify: ' || pending_reason) "
        "WHERE status = 'applied_pending'"
    )
    with op.batch_alter_table("suggested_fixes") as batch_op:
        batch_op.drop_constraint(op.f("ck_suggested_fixes_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_suggested_fixes_status"), f"status IN {FIVE}")
        batch_op.drop_column("pending_reason")
