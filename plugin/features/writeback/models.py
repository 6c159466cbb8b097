from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, NullableJSON, UTCDateTime, utcnow
from plugin.kernel.states import WritebackKind, WritebackState, values


class Writeback(Base):
    """A resumable write of a note (and status change) to the PSA ticket: an outbox row."""

    __tablename__ = "writebacks"
    __table_args__ = (
        CheckConstraint(f"kind IN {values(WritebackKind)!r}", name="kind"),
        CheckConstraint(f"state IN {values(WritebackState)!r}", name="state"),
        Index("ix_writebacks_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_writebacks_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    markdown: Mapped[str] = mapped_column(Text)
    # Where it is (kernel.states.WritebackState); what it did is in the columns below.
    state: Mapped[str] = mapped_column(String(16), default=WritebackState.PENDING)
    note_external_id: Mapped[str | None] = mapped_column(String(100))
    note_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    target_status_id: Mapped[int | None] = mapped_column(BigInteger)
    verified_status_id: Mapped[int | None] = mapped_column(BigInteger)
    verified_status_name: Mapped[str | None] = mapped_column(String(200))
    skipped_reason: Mapped[str | None] = mapped_column(Text)
    # Secret-looking spans the engineer confirmed were not secrets: {start, end, kind}.
    allowed_spans: Mapped[list[dict[str, Any]] | None] = mapped_column(NullableJSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    # The PSA member who wrote the note (a pod member), attributed in the PSA where it can be.
    author_member_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
