"""Request and response models of the script library."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugin.features.fixes.schemas import ScriptDownload
from plugin.features.scripts.parameters import ParameterSpec
from plugin.kernel.http import RowId
from plugin.kernel.script_lint import Finding

LanguageName = Literal["powershell", "bash", "cmd"]


class TrackRecord(BaseModel):
    suggested: int = 0
    applied: int = 0
    worked: int = 0
    failed: int = 0
    partial: int = 0
    pending: int = 0


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    language: LanguageName
    body: str = Field(min_length=1, max_length=100_000)
    parameters_schema: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    acknowledge_findings: bool = Field(
        False,
        description="The admin has read the lint's high-severity findings and publishes the "
        "template anyway (recorded with their name); required when there are any",
    )


class FindingsAcknowledgement(BaseModel):
    """Who accepted a template's high-severity findings, when, and which."""

    by: str
    at: datetime | None = None
    findings: list[Finding]


class TemplateOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    keywords: list[str]
    language: str
    body: str
    parameters_schema: list[ParameterSpec]
    origin: str
    track_record: TrackRecord
    findings: list[Finding] = Field(
        default_factory=list, description="Dangerous operations in the body (the lint)"
    )
    findings_acknowledgement: FindingsAcknowledgement | None = None
    created_at: datetime
    updated_at: datetime
    library_version: int | None = Field(
        None, description="The shipped library's version of this template; null for your own"
    )
    edited_at: datetime | None = Field(
        None, description="When an admin changed it (a changed shipped template is kept)"
    )


class TemplateList(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = None


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: RowId
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description='Values by name; a sensitive one may be {"secret_ref": <id>}, a secret '
        "pasted into the session (GET /api/v1/ai-sessions/{id}/secrets)",
    )
    ai_session_id: RowId | None = None


class GenerateOut(BaseModel):
    generation_id: int
    rendered_script: str
    findings: list[Finding] = Field(
        default_factory=list, description="Dangerous operations in rendered_script (the lint)"
    )
    download: ScriptDownload
    state_version: int | None = None


class DraftTemplateOut(BaseModel):
    id: int
    name: str
    language: str
    source_script: str
    templated_body: str
    parameters_schema: list[ParameterSpec]
    generator: str
    fell_back: bool
    fallback_reason: str | None
    status: str
    session_id: int | None
    suggested_fix_id: int | None
    promoted_template_id: int | None
    findings: list[Finding] = Field(
        default_factory=list, description="Dangerous operations in the source script (the lint)"
    )
    created_at: datetime


class DraftTemplateList(BaseModel):
    items: list[DraftTemplateOut]
    next_cursor: str | None = None


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledge_findings: bool = Field(
        False, description="Required (true) when the draft has high-severity lint findings"
    )
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    keywords: list[str] = Field(default_factory=list, max_length=50)
