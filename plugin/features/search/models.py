"""The similar-work index's tables.

The full-text structures differ by backend and are created by the search migration, not
declared here: an FTS5 table `resolved_work_fts` on SQLite; on PostgreSQL a narrow table
`resolved_work_search` of tsvectors with a GIN index, and `resolved_work_terms`, the
document count of each term (see `text_index`). `NOT_IN_MODELS` names them so schema
comparison (autogenerate) leaves them alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, JSONType, UTCDateTime, utcnow
from plugin.kernel.states import WorkOutcome, WorkSource, values

FTS_TABLE = "resolved_work_fts"
FTS_VOCAB_TABLE = "resolved_work_fts_vocab"  # fts5vocab: each term's document count
SEARCH_TABLE = "resolved_work_search"  # PostgreSQL: each document's tsvector
TERMS_TABLE = "resolved_work_terms"  # PostgreSQL: documents per term, per account
# Tables and columns the search migration creates outside the models, per backend.
NOT_IN_MODELS = frozenset(
    {
        FTS_TABLE,
        *(f"{FTS_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")),
        FTS_VOCAB_TABLE,
        SEARCH_TABLE,
        TERMS_TABLE,
    }
)


class ResolvedWork(Base):
    """One resolved or escalated piece of work, redacted: a closed session or an imported
    closed ticket. `fixes` lists what was tried, in order, with its outcome:
    [{"title", "status", "notes", "template_id"}]."""

    __tablename__ = "resolved_work"
    __table_args__ = (
        CheckConstraint(f"source IN {values(WorkSource)!r}", name="source"),
        CheckConstraint(f"outcome IN {values(WorkOutcome)!r}", name="outcome"),
        # A ticket is indexed once per account: its session wins over its imported history.
        UniqueConstraint("account_id", "doc_key"),
        Index("ix_resolved_work_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    doc_key: Mapped[str] = mapped_column(String(64))  # "ticket:4711" or "session:12"
    source: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    psa_ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    summary: Mapped[str] = mapped_column(String(500))
    problem: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[str] = mapped_column(Text, default="")
    fixes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    root_cause: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # float16 vector of the problem's meaning (see vectors.py); None when not embedded.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResolvedWorkVersion(Base):
    """Raised with every write to an account's index, so a replica's in-memory vectors
    know, with one primary-key read, whether they are still current."""

    __tablename__ = "resolved_work_versions"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, default=0)


class QueryExpansion(Base):
    """The LLM's search terms for a session's state (one cheap call per state_version)."""

    __tablename__ = "similar_query_expansions"
    __table_args__ = (UniqueConstraint("session_id", "state_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    state_version: Mapped[int] = mapped_column(Integer)
    terms: Mapped[str] = mapped_column(Text)
    generator: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HistoryImport(Base):
    """Where an account's history import got to: resumable from `cursor_ticket_id`."""

    __tablename__ = "history_imports"
    __table_args__ = (UniqueConstraint("account_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))  # "all" or "board:12"
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    cursor_ticket_id: Mapped[int] = mapped_column(BigInteger, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
