from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, JSONType, UTCDateTime, utcnow

FIX_STATUSES = (
    "suggested",
    "applied_success",
    "applied_failed",
    "applied_partial",
    "applied_pending",
    "dismissed",
)
DECISIONS = ("one_off", "draft_template", "build_template", "dismissed")

# One active fix per session: not superseded and not dismissed.
ACTIVE_FIX_WHERE = "superseded_at IS NULL AND status <> 'dismissed'"


class SuggestedFix(Base):
    __tablename__ = "suggested_fixes"
    __table_args__ = (
        CheckConstraint(f"status IN {FIX_STATUSES!r}", name="status"),
        CheckConstraint(f"decision IN {DECISIONS!r}", name="decision"),
        CheckConstraint("confidence BETWEEN 0 AND 100", name="confidence_range"),
        Index("ix_suggested_fixes_session_id", "session_id"),
        Index(
            "uq_suggested_fixes_one_active_per_session",
            "session_id",
            unique=True,
            sqlite_where=text(ACTIVE_FIX_WHERE),
            postgresql_where=text(ACTIVE_FIX_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[int | None] = mapped_column(Integer)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_templates.id", ondelete="SET NULL")
    )
    ai_drafted_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ai_drafted_script: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="suggested")
    decision: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_script: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    partial_notes: Mapped[str | None] = mapped_column(Text)
    pending_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
