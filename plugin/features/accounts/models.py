from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, UTCDateTime, utcnow
from plugin.kernel.states import TokenKind, TokenRole, values


class ApiToken(Base):
    """A bearer token, stored as its SHA-256. `kind` api: created by an admin on the CLI;
    pod: issued to a ConnectWise member verified by the pod, short-lived."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(f"role IN {values(TokenRole)!r}", name="role"),
        CheckConstraint(f"kind IN {values(TokenKind)!r}", name="kind"),
        Index("ix_api_tokens_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8), default=TokenKind.API)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstanceSecret(Base):
    """Secrets generated on first start and shared by every replica (e.g. the secret key)."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
