from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from plugin.kernel.states import WorkOutcome, WorkSource


class TriedFix(BaseModel):
    title: str
    status: str = Field(description="applied_success | applied_failed | applied_partial | …")
    notes: str | None = Field(None, description="what still failed, or what was waited on")
    template_id: int | None = None


class SimilarWork(BaseModel):
    id: int = Field(description="the entry of the similar-work index")
    source: WorkSource
    ticket_id: int | None
    session_id: int | None
    summary: str
    problem: str
    outcome: WorkOutcome
    closed_at: datetime
    age_days: int
    fixed_by: TriedFix | None = Field(
        description="the fix verified to work (the last that worked); null for imported "
        "history, whose resolution says what was done"
    )
    failed_fixes: list[TriedFix] = Field(description="fixes that did not work on that ticket")
    tried: list[TriedFix] = Field(description="every fix tried, in order, with its outcome")
    root_cause: str | None
    resolution: str | None


class SimilarList(BaseModel):
    items: list[SimilarWork]
    next_cursor: None = None
    state_version: int
    expanded: bool = Field(description="whether the LLM's search terms widened the query")
