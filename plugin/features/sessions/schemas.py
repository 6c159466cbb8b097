"""Request and response models of AI sessions, messages and facts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Defaults to the linked ticket's summary",
    )
    psa_ticket_id: int | None = Field(None, ge=1, le=2**53)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value)


class SessionQuery(BaseModel):
    psa_ticket_id: int | None = Field(None, ge=1, le=2**53)
    status: str | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class MessageOut(BaseModel):
    id: int
    role: str
    content: str = Field(description="As stored: secrets already replaced by [REDACTED]")
    redactions: list[str] = Field(
        default_factory=list,
        description="The kind of each [REDACTED] in `content`, in order (never the value)",
    )
    generator: str | None = None
    reply_to_id: int | None = None
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class MessageQuery(BaseModel):
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=500)


class FactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    _text = field_validator("text")(_not_blank)


class FactOut(BaseModel):
    id: int
    text: str
    redactions: list[str] = Field(default_factory=list)
    source: str
    created_at: datetime
    updated_at: datetime
    state_version: int | None = None


class FactList(BaseModel):
    items: list[FactOut]
    next_cursor: str | None = None
