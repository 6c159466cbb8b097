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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, JSONType, UTCDateTime, utcnow
from plugin.kernel.states import CallbackEventStatus, values


class PSACallbackEvent(Base):
    """A stored callback delivery, processed later by the callback worker."""

    __tablename__ = "psa_callback_events"
    __table_args__ = (
        CheckConstraint(f"status IN {values(CallbackEventStatus)!r}", name="status"),
        UniqueConstraint("account_id", "dedupe_key"),
        Index("ix_psa_callback_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=CallbackEventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PSATicketSnapshot(Base):
    """The ticket as Fixpilot last saw it."""

    __tablename__ = "psa_ticket_snapshots"
    __table_args__ = (UniqueConstraint("account_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[str | None] = mapped_column(Text)
    board_id: Mapped[int | None] = mapped_column(BigInteger)
    board_name: Mapped[str | None] = mapped_column(String(200))
    status_id: Mapped[int | None] = mapped_column(BigInteger)
    status_name: Mapped[str | None] = mapped_column(String(200))
    company_name: Mapped[str | None] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_parent_id: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_updated: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
