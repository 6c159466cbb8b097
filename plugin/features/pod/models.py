from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, UTCDateTime, utcnow


class SignInFailure(Base):
    """One pod sign-in that ConnectWise refused, by member or by client address. Kept in the
    database so every replica sees the same counts; rows older than the window are purged."""

    __tablename__ = "signin_failures"
    __table_args__ = (
        Index("ix_signin_failures_subject", "scope", "subject", "failed_at"),
        Index("ix_signin_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # "member" or "address"
    subject: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
