"""Request and response models of suggested fixes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugin.kernel.script_lint import Finding
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
    failure_reason: str | None = Field(
        None, description="What happened when it didn't work (applied_failed), redacted"
    )
    superseded_at: datetime | None
    created_at: datetime
    state_version: int | None = Field(
        None, description="The session's state_version after this write (on writes only)"
    )
    findings: list[Finding] = Field(
        default_factory=list,
        description="Dangerous operations in the script this fix would run (the edited script "
        "if there is one, else the AI-drafted one), from the lint; show high ones before "
        "Copy/Run",
    )


class FixList(BaseModel):
    items: list[FixOut]
    next_cursor: str | None = None


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    notes: str | None = Field(None, max_length=4000)
    pending_reason: str | None = Field(None, max_length=1000)
    failure_reason: str | None = Field(
        None,
        max_length=4000,
        description="With applied_failed only: what happened (optional; the escalation "
        "package quotes it)",
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal[values(FixDecision)]  # type: ignore[valid-type]
    edited_script: str | None = Field(None, max_length=100_000)


class ScriptDownload(BaseModel):
    """A script as a file to save: PowerShell as UTF-8 with a BOM and CRLF line endings
    (Windows PowerShell 5.1 reads a file without a BOM in the ANSI code page), cmd with CRLF
    and no BOM (cmd would read the BOM as text), bash as it is."""

    filename: str
    media_type: str
    content: str


class DecisionOut(BaseModel):
    decision: str
    fix: FixOut
    rendered_script: str | None = None
    findings: list[Finding] = Field(
        default_factory=list, description="Dangerous operations in rendered_script (the lint)"
    )
    download: ScriptDownload | None = None
    draft_template_id: int | None = None
    generation_id: int | None = None
    redirect_path: str | None = None
    state_version: int
