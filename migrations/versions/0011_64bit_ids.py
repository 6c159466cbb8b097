"""64-bit ids: every id and foreign key column BIGINT on PostgreSQL (and the sequences
behind the ids), so any id the API accepts (1..2^63-1) fits its column. SQLite's INTEGER is
already 64-bit: nothing to do there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its id-like columns; "id" first where the table has its own sequence.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("id",),
    "ai_sessions": ("id", "account_id"),
    "api_tokens": ("id", "account_id"),
    "history_imports": ("id", "account_id"),
    "psa_callback_events": ("id", "account_id"),
    "psa_ticket_snapshots": ("id", "account_id"),
    "resolved_work_versions": ("account_id",),
    "script_templates": ("id", "account_id"),
    "facts": ("id", "session_id"),
    "kb_articles": ("id", "account_id", "session_id"),
    "llm_calls": ("id", "account_id", "session_id"),
    "messages": ("id", "session_id", "reply_to_id"),
    "note_previews": ("id", "session_id"),
    "resolved_work": ("id", "account_id", "session_id"),
    "session_secrets": ("id", "session_id"),
    "similar_query_expansions": ("id", "session_id"),
    "writebacks": ("id", "account_id", "session_id"),
    "diagnostic_checks": ("id", "session_id", "message_id", "fact_id"),
    "suggested_fixes": ("id", "session_id", "template_id", "source_message_id"),
    "draft_templates": (
        "id",
        "account_id",
        "session_id",
        "suggested_fix_id",
        "promoted_template_id",
    ),
    "script_generations": ("id", "account_id", "session_id", "template_id", "suggested_fix_id"),
    # PostgreSQL's search structures (0007), outside the models.
    "resolved_work_search": ("id", "account_id"),
    "resolved_work_terms": ("account_id",),
}


def _alter(sql_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in ID_COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {sql_type}" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
        if "id" in columns:
            # A SERIAL's sequence has its own type (integer stops at 2^31-1).
            op.execute(
                f"DO $$ DECLARE s text := pg_get_serial_sequence('{table}', 'id'); BEGIN "
                f"IF s IS NOT NULL THEN EXECUTE 'ALTER SEQUENCE ' || s || ' AS {sql_type}'; "
                "END IF; END $$"
            )


def upgrade() -> None:
    _alter("BIGINT")


def downgrade() -> None:
    _alter("INTEGER")
