"""What happened when a fix didn't work (`suggested_fixes.failure_reason`, for the
escalation package), and the diagnostic checks the assistant proposes (`diagnostic_checks`:
ticked off with a result that becomes a fact).

Revision ID: 0010
Revises: 0007b
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("suggested_fixes") as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
    op.create_table(
        "diagnostic_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("fact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('proposed', 'done', 'dismissed')",
            name=op.f("ck_diagnostic_checks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_sessions.id"],
            name=op.f("fk_diagnostic_checks_session_id_ai_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_diagnostic_checks_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fact_id"],
            ["facts.id"],
            name=op.f("fk_diagnostic_checks_fact_id_facts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostic_checks")),
    )
    op.create_index(
        "ix_diagnostic_checks_session_id", "diagnostic_checks", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_diagnostic_checks_session_id", table_name="diagnostic_checks")
    op.drop_table("diagnostic_checks")
    with op.batch_alter_table("suggested_fixes") as batch_op:
        batch_op.drop_column("failure_reason")
