from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, and_
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, JSONType, UTCDateTime, utcnow
from plugin.kernel.states import FixDecision, FixStatus, values


class SuggestedFix(Base):
    __tablename__ = "suggested_fixes"
    __table_args__ = (
        CheckConstraint(f"status IN {values(FixStatus)!r}", name="status"),
        CheckConstraint(f"decision IN {values(FixDecision)!r}", name="decision"),
        CheckConstraint("confidence BETWEEN 0 AND 100", name="confidence_range"),
        Index("ix_suggested_fixes_session_id", "session_id"),
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
    status: Mapped[str] = mapped_column(String(32), default=FixStatus.SUGGESTED)
    decision: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_script: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    partial_notes: Mapped[str | None] = mapped_column(Text)
    pending_reason: Mapped[str | None] = mapped_column(Text)
    # What happened when it didn't work, in the engineer's words (redacted): the escalation
    # package carries it.
    failure_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:
        return self.superseded_at is None and self.status != FixStatus.DISMISSED


# The active fix of a session: not superseded and not dismissed. At most one per session,
# enforced by the partial unique index built from this same clause.
IS_ACTIVE_FIX = and_(
    SuggestedFix.superseded_at.is_(None), SuggestedFix.status != FixStatus.DISMISSED.value
)
Index(
    "uq_suggested_fixes_one_active_per_session",
    SuggestedFix.session_id,
    unique=True,
    sqlite_where=IS_ACTIVE_FIX,
    postgresql_where=IS_ACTIVE_FIX,
)
