from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
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

from plugin.kernel.db import Base, JSONType, NullableJSON, UTCDateTime, utcnow
from plugin.kernel.states import DraftStatus, ScriptLanguage, TemplateOrigin, values


class ScriptTemplate(Base):
    __tablename__ = "script_templates"
    __table_args__ = (
        CheckConstraint(f"language IN {values(ScriptLanguage)!r}", name="language"),
        CheckConstraint(f"origin IN {values(TemplateOrigin)!r}", name="origin"),
        UniqueConstraint("account_id", "slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    language: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    parameters_schema: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    origin: Mapped[str] = mapped_column(String(16), default=TemplateOrigin.CUSTOM)
    # The version of the shipped library's template this row holds; None for the account's
    # own templates (an admin's, promoted drafts, imported from an MSP's file).
    library_version: Mapped[int | None] = mapped_column(Integer)
    # When an admin last changed it: a shipped template an admin edited keeps their version.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The admin's (or the library file's) acceptance of the body's high-severity lint
    # findings: {"by", "at", "findings": [...]}; None when it has none.
    findings_acknowledgement: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScriptGeneration(Base):
    """A rendered script. Only the redacted forms are stored: sensitive values never rest."""

    __tablename__ = "script_generations"
    __table_args__ = (Index("ix_script_generations_session_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_templates.id", ondelete="SET NULL")
    )
    suggested_fix_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggested_fixes.id", ondelete="SET NULL")
    )
    parameters_redacted: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rendered_script_redacted: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DraftTemplate(Base):
    __tablename__ = "draft_templates"
    __table_args__ = (
        CheckConstraint(f"language IN {values(ScriptLanguage)!r}", name="language"),
        CheckConstraint(f"status IN {values(DraftStatus)!r}", name="status"),
        Index("ix_draft_templates_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_sessions.id", ondelete="SET NULL")
    )
    suggested_fix_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggested_fixes.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    source_script: Mapped[str] = mapped_column(Text)  # redacted
    templated_body: Mapped[str] = mapped_column(Text)
    parameters_schema: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    generator: Mapped[str] = mapped_column(String(32))
    fell_back: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.DRAFT)
    promoted_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_templates.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
