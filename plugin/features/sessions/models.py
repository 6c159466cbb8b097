from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, NullableJSON, UTCDateTime, utcnow
from plugin.kernel.states import FactSource, MessageRole, values


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN {values(MessageRole)!r}", name="role"),
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
    # The kinds of what was redacted in `content`, in order (the pod shows them as chips).
    redactions: Mapped[list[str] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Fact(Base):
    __tablename__ = "facts"
    __table_args__ = (
        CheckConstraint(f"source IN {values(FactSource)!r}", name="source"),
        Index("ix_facts_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default=FactSource.ENGINEER)
    redactions: Mapped[list[str] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
