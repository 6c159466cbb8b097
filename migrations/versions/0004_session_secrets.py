"""The session secret memory, and what is already stored redacted.

Adds `session_secrets` (encrypted values remembered per session), the `redactions` kinds
of messages and facts, and the spans an engineer allowed in a posted note. Then redacts, with the detector of this release, the free text
already stored: chat messages, facts, session titles and ticket summaries, fixes, writeback
documents and drafted templates; cached note previews are dropped (they are drafted again).
Downgrade drops the new table and columns; redacted text stays redacted (the values are
gone by design).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)
# table → its free-text columns
FREE_TEXT = {
    "messages": ("content",),
    "facts": ("text",),
    "ai_sessions": ("title",),
    "suggested_fixes": (
        "title", "summary", "ai_drafted_script", "edited_script", "partial_notes",
        "pending_reason",
    ),
    "writebacks": ("markdown",),
    "draft_templates": ("source_script", "templated_body"),
}  # fmt: skip
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "session_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_sessions.id"],
            name=op.f("fk_session_secrets_session_id_ai_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_secrets")),
        sa.UniqueConstraint(
            "session_id", "digest", name=op.f("uq_session_secrets_session_id_digest")
        ),
    )
    op.create_index("ix_session_secrets_session_id", "session_secrets", ["session_id"])
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("redactions", NULLABLE_JSON, nullable=True))
    with op.batch_alter_table("facts") as batch_op:
        batch_op.add_column(sa.Column("redactions", NULLABLE_JSON, nullable=True))
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.add_column(sa.Column("allowed_spans", NULLABLE_JSON, nullable=True))
    _redact_stored_text()


def _redact_stored_text() -> None:
    from plugin.kernel.redaction import redact_text

    bind = op.get_bind()
    for table_name, columns in FREE_TEXT.items():
        table = sa.table(table_name, sa.column("id", sa.Integer), *map(sa.column, columns))
        last_id = 0
        while rows := bind.execute(
            sa.select(table).where(table.c.id > last_id).order_by(table.c.id).limit(BATCH)
        ).mappings().all():
            for row in rows:
                changed = {
                    c: redact_text(row[c]) for c in columns if row[c] and redact_text(row[c]) != row[c]
                }
                if changed:
                    bind.execute(table.update().where(table.c.id == row["id"]).values(**changed))
            last_id = rows[-1]["id"]
    _redact_ticket_summaries(bind, redact_text)
    op.execute("DELETE FROM note_previews")


def _redact_ticket_summaries(bind, redact_text) -> None:
    sessions = sa.table(
        "ai_sessions", sa.column("id", sa.Integer), sa.column("ticket_context", sa.JSON)
    )
    rows = bind.execute(
        sa.select(sessions).where(sessions.c.ticket_context.is_not(None))
    ).mappings().all()
    for row in rows:
        context = row["ticket_context"]
        if isinstance(context, dict) and context.get("summary"):
            summary = redact_text(context["summary"])
            if summary != context["summary"]:
                bind.execute(
                    sessions.update()
                    .where(sessions.c.id == row["id"])
                    .values(ticket_context={**context, "summary": summary})
                )


def downgrade() -> None:
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.drop_column("allowed_spans")
    with op.batch_alter_table("facts") as batch_op:
        batch_op.drop_column("redactions")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("redactions")
    op.drop_index("ix_session_secrets_session_id", table_name="session_secrets")
    op.drop_table("session_secrets")
