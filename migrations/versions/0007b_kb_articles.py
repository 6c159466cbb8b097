"""KB articles: the articles posted from sessions, and their drafts in the preview cache
(`note_previews.kind` takes `kb_article`).

Revision ID: 0007b
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007b"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
TWO_KINDS = "('resolution_note', 'escalation_package')"
THREE_KINDS = "('resolution_note', 'escalation_package', 'kb_article')"


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("external_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_kb_articles_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_sessions.id"],
            name=op.f("fk_kb_articles_session_id_ai_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint(
            "session_id", "state_version", name=op.f("uq_kb_articles_session_id_state_version")
        ),
    )
    with op.batch_alter_table("note_previews") as batch_op:
        batch_op.drop_constraint(op.f("ck_note_previews_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_note_previews_kind"), f"kind IN {THREE_KINDS}")


def downgrade() -> None:
    op.execute("DELETE FROM note_previews WHERE kind = 'kb_article'")  # drafts, not records
    with op.batch_alter_table("note_previews") as batch_op:
        batch_op.drop_constraint(op.f("ck_note_previews_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_note_previews_kind"), f"kind IN {TWO_KINDS}")
    op.drop_table("kb_articles")
