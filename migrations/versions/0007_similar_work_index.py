"""The similar-work index: resolved and escalated work per account, its full-text index
(SQLite: an FTS5 table and its vocabulary; PostgreSQL: a table of tsvectors with a GIN
index, and the document count of each term),
the index version each replica's vectors follow, the LLM's cached query expansions, and the
history import's cursor.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    _resolved_work()
    op.create_table(
        "resolved_work_versions",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_resolved_work_versions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_resolved_work_versions")),
    )
    op.create_table(
        "similar_query_expansions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("generator", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_sessions.id"],
            name=op.f("fk_similar_query_expansions_session_id_ai_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similar_query_expansions")),
        sa.UniqueConstraint(
            "session_id",
            "state_version",
            name=op.f("uq_similar_query_expansions_session_id_state_version"),
        ),
    )
    op.create_table(
        "history_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("since", UTC_DATETIME, nullable=False),
        sa.Column("cursor_ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_history_imports_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_imports")),
        sa.UniqueConstraint(
            "account_id", "scope", name=op.f("uq_history_imports_account_id_scope")
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        # The terms are computed by the service (plugin/features/search/terms.py), so the
        # tokenizer only splits on spaces. `account` holds one token naming the account, so
        # a search matches its account's entries inside FTS5 (no join); the vocabulary gives
        # each term's document count; the trigger drops an entry with its row (cascades too).
        op.execute(
            "CREATE VIRTUAL TABLE resolved_work_fts USING fts5("
            "account, problem, facts, fixes, resolution, tokenize = 'unicode61')"
        )
        op.execute(
            "CREATE VIRTUAL TABLE resolved_work_fts_vocab USING fts5vocab(resolved_work_fts, row)"
        )
        op.execute(
            "CREATE TRIGGER resolved_work_fts_delete AFTER DELETE ON resolved_work BEGIN "
            "DELETE FROM resolved_work_fts WHERE rowid = old.id; END"
        )
    else:
        # The vectors in a narrow table of their own: ranking reads thousands of them, and
        # next to the documents' text and embeddings they cost three times the page reads.
        op.create_table(
            "resolved_work_search",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("account_id", sa.Integer(), nullable=False),
            sa.Column("search_vector", postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(
                ["id"],
                ["resolved_work.id"],
                name=op.f("fk_resolved_work_search_id_resolved_work"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_resolved_work_search")),
        )
        # No index on account_id: beside the GIN index it only adds a bitmap of every
        # document of the account to each search; the account is checked on the matches.
        op.create_index(
            "ix_resolved_work_search_search_vector",
            "resolved_work_search",
            ["search_vector"],
            postgresql_using="gin",
        )
        # PostgreSQL's rankings have no idf: the search weighs each term by these counts.
        op.create_table(
            "resolved_work_terms",
            sa.Column("account_id", sa.Integer(), nullable=False),
            sa.Column("term", sa.String(length=64), nullable=False),
            sa.Column("docs", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["account_id"],
                ["accounts.id"],
                name=op.f("fk_resolved_work_terms_account_id_accounts"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("account_id", "term", name=op.f("pk_resolved_work_terms")),
        )


def _resolved_work() -> None:
    op.create_table(
        "resolved_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("doc_key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("psa_ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("fixes", JSON_TYPE, nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("indexed_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "source IN ('session', 'history')", name=op.f("ck_resolved_work_source")
        ),
        sa.CheckConstraint(
            "outcome IN ('resolved', 'escalated')", name=op.f("ck_resolved_work_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_resolved_work_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_sessions.id"],
            name=op.f("fk_resolved_work_session_id_ai_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolved_work")),
        sa.UniqueConstraint(
            "account_id", "doc_key", name=op.f("uq_resolved_work_account_id_doc_key")
        ),
    )
    op.create_index("ix_resolved_work_session_id", "resolved_work", ["session_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER resolved_work_fts_delete")
        op.execute("DROP TABLE resolved_work_fts_vocab")
        op.execute("DROP TABLE resolved_work_fts")
    else:
        op.drop_table("resolved_work_terms")
        op.drop_table("resolved_work_search")
    op.drop_table("history_imports")
    op.drop_table("similar_query_expansions")
    op.drop_table("resolved_work_versions")
    op.drop_index("ix_resolved_work_session_id", table_name="resolved_work")
    op.drop_table("resolved_work")
