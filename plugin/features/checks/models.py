from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, UTCDateTime, utcnow
from plugin.kernel.states import CheckStatus, values

CHECK_TEXT_MAX = 300


class DiagnosticCheck(Base):
    """One check the assistant proposed in a reply (`message_id`); once ticked off, its
    `result` and the fact it became (`fact_id`)."""

    __tablename__ = "diagnostic_checks"
    __table_args__ = (
        CheckConstraint(f"status IN {values(CheckStatus)!r}", name="status"),
        Index("ix_diagnostic_checks_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(CHECK_TEXT_MAX))
    status: Mapped[str] = mapped_column(String(16), default=CheckStatus.PROPOSED)
    result: Mapped[str | None] = mapped_column(Text)
    fact_id: Mapped[int | None] = mapped_column(ForeignKey("facts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
