"""Request and response models of AI sessions, messages and facts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plugin.fixes.schemas import FixOut
from plugin.http import RowId


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    psa_ticket_id: int | None = Field(None, ge=1, le=2**53)

    _title = field_validator("title")(_not_blank)


class SessionQuery(BaseModel):
    psa_ticket_id: int | None = Field(None, ge=1, le=2**53)
    status: str | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class TicketInfo(BaseModel):
    id: int
    summary: str | None = None
    board_id: int | None = None
    board_name: str | None = None
    status_id: int | None = None
    status_name: str | None = None
    company_name: str | None = None
    contact_name: str | None = None
    closed: bool = False
    merged_parent_id: int | None = None


class WritebackBrief(BaseModel):
    id: int
    kind: str
    state: str
    stage: str
    last_error: str | None = None
    attempts: int = 0


class SessionOut(BaseModel):
    id: int
    title: str
    psa_ticket_id: int | None
    status: str
    state_version: int
    ticket_state: str | None = Field(
        None,
        description="What happened to the linked ticket outside Fixpilot: open, closed_outside, "
        "merged, moved_board or deleted",
    )
    ticket: TicketInfo | None = None
    active_fix: FixOut | None = None
    banner_mode: Literal["verifying", "nudge", "partial", "pending"] | None = None
    latest_writeback: WritebackBrief | None = None
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field("", max_length=20_000)
    retry_of: RowId | None = Field(
        None, description="Id of an earlier message of yours whose turn failed: answer it"
    )


class MessageOut(BaseModel):
    id: int
    role: str
    content: str
    generator: str | None = None
    reply_to_id: int | None = None
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class MessageQuery(BaseModel):
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=500)


class FixOutcomeEvent(BaseModel):
    fix_id: int
    outcome: str
    applied: bool
    ignored_reason: str | None = None


class TurnOut(BaseModel):
    user_message: MessageOut
    assistant_message: MessageOut
    suggested_fix: FixOut | None = None
    fix_outcome: FixOutcomeEvent | None = None
    state_version: int


class FactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    _text = field_validator("text")(_not_blank)


class FactOut(BaseModel):
    id: int
    text: str
    source: str
    created_at: datetime
    updated_at: datetime
    state_version: int | None = None


class FactList(BaseModel):
    items: list[FactOut]
    next_cursor: str | None = None
