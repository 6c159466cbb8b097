from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugin.kernel.states import WritebackState, values


class AllowedSpan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, le=60_000)
    end: int = Field(ge=1, le=60_000)


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str | None = Field(
        None,
        max_length=60_000,
        description="The engineer's edited document; omitted: the current preview",
    )
    allow_spans: list[AllowedSpan] = Field(
        default_factory=list,
        max_length=50,
        description="Spans of the final text (as a 422 secret_detected named them) that the "
        "engineer confirms are not secrets; recorded with the writeback",
    )


class NoteRef(BaseModel):
    external_id: str | None


class StatusRef(BaseModel):
    id: int
    name: str | None
    verified: bool


class WritebackResult(BaseModel):
    outcome: Literal[
        "resolved", "escalated", "resolved_local", "escalated_local", "queued", "failed"
    ] = Field(
        description="queued: the PSA is unreachable and the writeback waits to be retried "
        "(state waiting_retry); failed: the PSA refused it (state failed)"
    )
    note: NoteRef | None
    status: StatusRef | None
    status_transition_skipped_reason: str | None
    writeback_id: int | None = None
    state: str
    last_error: str | None = None
    created_by: str | None = Field(
        None, description="Who posted it: the ConnectWise member, or token:<id> for an API token"
    )
    author_member_id: str | None = Field(
        None, description="The ConnectWise member the note is attributed to on the ticket"
    )


StateName = Literal[values(WritebackState)]  # type: ignore[valid-type]


class WritebackQuery(BaseModel):
    state: StateName | None = Field(None, description="Only writebacks in this state")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class WritebackOut(BaseModel):
    id: int
    session_id: int
    kind: str
    ticket_id: int | None
    state: StateName = Field(
        description="pending, note_posted, status_requested (a runner holds it); "
        "waiting_retry (the PSA was unreachable; due at next_attempt_at); failed (the PSA "
        "refused it; retried only by the engineer or an admin); cancelled; done"
    )
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_error: str | None
    note_external_id: str | None
    verified_status_id: int | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class WritebackPage(BaseModel):
    items: list[WritebackOut]
    next_cursor: str | None
