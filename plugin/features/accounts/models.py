from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, JSONType, UTCDateTime, utcnow

ROLES = ("admin", "engineer")
PSA_PROVIDERS = ("connectwise", "local")


class Account(Base):
    """One MSP tenant: its PSA connection and its preferences."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(f"psa_provider IN {PSA_PROVIDERS!r}", name="psa_provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    psa_provider: Mapped[str] = mapped_column(String(32), default="local")
    cw_api_url: Mapped[str | None] = mapped_column(String(500))
    cw_company_id: Mapped[str | None] = mapped_column(String(100))
    cw_public_key: Mapped[str | None] = mapped_column(String(200))
    cw_private_key: Mapped[str | None] = mapped_column(String(500))  # never returned by the API
    cw_client_id: Mapped[str | None] = mapped_column(String(100))
    cw_api_member_id: Mapped[str | None] = mapped_column(String(100))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256. `kind` api: created by an admin on the CLI;
    pod: issued to a ConnectWise member verified by the pod, short-lived."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint("kind IN ('api', 'pod')", name="kind"),
        Index("ix_api_tokens_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8), default="api")
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
