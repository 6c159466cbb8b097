from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, JSONType, UTCDateTime, utcnow

SESSION_STATUSES = ("active", "resolved", "escalated", "resolved_local", "escalated_local")
# What happened to the linked ticket outside Fixpilot (set by callback processing).
TICKET_STATES = ("open", "closed_outside", "merged", "moved_board", "deleted")
MESSAGE_ROLES = ("user", "assistant")
FACT_SOURCES = ("engineer", "assistant", "ticket")


class AISession(Base):
    __tablename__ = "ai_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN {SESSION_STATUSES!r}", name="status"),
        CheckConstraint(f"ticket_state IN {TICKET_STATES!r}", name="ticket_state"),
        CheckConstraint("state_version >= 1", name="state_version_positive"),
        Index("ix_ai_sessions_account_id_psa_ticket_id", "account_id", "psa_ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    psa_ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), default="active")
    state_version: Mapped[int] = mapped_column(Integer, default=1)
    # The ticket as last seen (summary, board, status, company...) for prompts and notes.
    ticket_context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ticket_state: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN {MESSAGE_ROLES!r}", name="role"),
        Index("ix_messages_session_id_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # An assistant message answers one user message; a user message without an answer
    # is one whose turn failed and may be retried.
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), unique=True
    )
    generator: Mapped[str | None] = mapped_column(String(32))
    author: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Fact(Base):
    __tablename__ = "facts"
    __table_args__ = (
        CheckConstraint(f"source IN {FACT_SOURCES!r}", name="source"),
        Index("ix_facts_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="engineer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
