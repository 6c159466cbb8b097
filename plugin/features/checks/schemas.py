"""Request and response models of diagnostic checks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plugin.features.sessions.schemas import FactOut


class CheckOut(BaseModel):
    id: int
    text: str
    status: str = Field(description="proposed, done (its result became a fact) or dismissed")
    result: str | None = None
    fact_id: int | None = None
    message_id: int | None = Field(None, description="The assistant reply that proposed it")
    created_at: datetime
    state_version: int | None = Field(
        None, description="The session's state_version after this write (on writes only)"
    )


class CheckList(BaseModel):
    items: list[CheckOut]
    next_cursor: str | None = None


class CheckResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: str = Field(
        min_length=1,
        max_length=2000,
        description="What the check showed; the fact recorded is '<check>: <result>'",
    )

    @field_validator("result")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class CheckResultOut(BaseModel):
    check: CheckOut
    fact: FactOut
    state_version: int
