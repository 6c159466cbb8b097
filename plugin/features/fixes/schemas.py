"""Request and response models of suggested fixes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugin.kernel.states import FixDecision, FixStatus, values

# What the engineer (or the assistant's marker) may report about an applied fix.
OUTCOMES = values(FixStatus)[1:5]


class FixOut(BaseModel):
    id: int
    session_id: int
    title: str
    summary: str
    confidence: int | None
    template_id: int | None
    ai_drafted_parameters: dict[str, Any] | None
    ai_drafted_script: str | None
    status: str
    decision: str | None
    decided_at: datetime | None
    edited_script: str | None
    applied_at: datetime | None
    verified_at: datetime | None
    partial_notes: str | None
    pending_reason: str | None
    superseded_at: datetime | None
    created_at: datetime
    state_version: int | None = Field(
        None, description="The session's state_version after this write (on writes only)"
    )


class FixList(BaseModel):
    items: list[FixOut]
    next_cursor: str | None = None


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    notes: str | None = Field(None, max_length=4000)
    pending_reason: str | None = Field(None, max_length=1000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal[values(FixDecision)]  # type: ignore[valid-type]
    edited_script: str | None = Field(None, max_length=100_000)


class DecisionOut(BaseModel):
    decision: str
    fix: FixOut
    rendered_script: str | None = None
    draft_template_id: int | None = None
    generation_id: int | None = None
    redirect_path: str | None = None
    state_version: int
