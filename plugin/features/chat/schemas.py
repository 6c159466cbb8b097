"""Request and response models of a chat turn."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugin.features.checks.schemas import CheckOut
from plugin.features.fixes.schemas import FixOut
from plugin.features.sessions.schemas import MessageOut
from plugin.kernel.http import RowId


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field("", max_length=20_000)
    retry_of: RowId | None = Field(
        None, description="Id of an earlier message of yours whose turn failed: answer it"
    )


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
    proposed_checks: list[CheckOut] = Field(
        default_factory=list, description="Diagnostic checks this reply proposed ([CHECKS])"
    )
    state_version: int
