"""Request and response models of the callback intake and its admin view."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from plugin.kernel.states import CallbackEventStatus, values

EventStatus = Literal[values(CallbackEventStatus)]  # type: ignore[valid-type]


class CallbackAccepted(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    event_id: int | None = None


class CallbackEventQuery(BaseModel):
    status: EventStatus | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class CallbackEventOut(BaseModel):
    id: int
    dedupe_key: str
    record_id: int | None
    event_type: str
    action: str
    status: EventStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = Field(
        None, description="Why the last attempt failed, or why the event was ignored"
    )
    received_at: datetime
    processed_at: datetime | None = None


class CallbackEventPage(BaseModel):
    items: list[CallbackEventOut]
    next_cursor: str | None
