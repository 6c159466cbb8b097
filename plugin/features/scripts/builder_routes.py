"""The Script Builder over HTTP: a proposal for a script (the extraction pre-marks its
parameters), the live check and preview, and drafts saved, edited or discarded."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugin.features.fixes.service import get_fix
from plugin.features.scripts.builder import check_draft
from plugin.features.scripts.extraction import extract_template
from plugin.features.scripts.models import DraftTemplate
from plugin.features.scripts.parameters import ParameterSpec
from plugin.features.scripts.schemas import DraftTemplateOut, LanguageName
from plugin.features.scripts.service import checked_schema, draft_out
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.errors import Conflict
from plugin.kernel.http import Req, RouteTable, RowId
from plugin.kernel.redaction import redact_text
from plugin.kernel.script_lint import Finding, guess_language, lint_script
from plugin.kernel.states import DraftStatus
from plugin.kernel.tenancy import get_scoped

routes = RouteTable("scripts")
BUILDER = "/api/v1/scripts/builder"
DRAFTS = "/api/v1/scripts/draft-templates"


class BuilderSource(BaseModel):
    """Where the script comes from: a session's fix, or the script itself."""

    model_config = ConfigDict(extra="forbid")

    session_id: RowId | None = None
    fix_id: RowId | None = None
    script: str | None = Field(None, max_length=100_000)
    language: LanguageName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BuilderSource:
        if (self.session_id is None) != (self.fix_id is None):
            raise ValueError("session_id and fix_id go together")
        if (self.fix_id is None) == (self.script is None):
            raise ValueError("give either session_id and fix_id, or script")
        return self


class ProposalOut(BaseModel):
    name: str
    language: str
    source_script: str = Field(description="The script the template is built from, redacted")
    templated_body: str
    parameters_schema: list[ParameterSpec]
    examples: dict[str, Any] = Field(
        description="The script's own value of each parameter; never a sensitive one"
    )
    fell_back: bool
    reason: str | None
    generator: str
    findings: list[Finding]


class BuilderCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: LanguageName
    body: str = Field(min_length=1, max_length=100_000)
    parameters_schema: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    examples: dict[str, Any] = Field(
        default_factory=dict, description="Example values; sensitive parameters need none"
    )
    source: BuilderSource | None = None


class RoundTrip(BaseModel):
    reproduces: bool
    detail: str


class BuilderCheckOut(BaseModel):
    valid: bool
    errors: dict[str, str] = Field(description="By field: parameters.<name>, examples.<name>")
    preview: str | None = Field(description="Rendered with the examples; sensitive as [REDACTED]")
    findings: list[Finding]
    round_trip: RoundTrip | None = None


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    language: LanguageName
    templated_body: str = Field(min_length=1, max_length=100_000)
    parameters_schema: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    source: BuilderSource | None = None


async def _source_script(req: Req, source: BuilderSource) -> tuple[str, str, str]:
    """(script, its language, a name for it)."""
    if source.script is not None:
        return source.script, source.language or guess_language(source.script), "New template"
    assert source.session_id is not None and source.fix_id is not None
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, source.session_id)
        fix = await get_fix(db, ai_session.id, source.fix_id)
    script = fix.edited_script or fix.ai_drafted_script
    if not script:
        raise Conflict("This fix has no script to build a template from.", code="fix_has_no_script")
    return script, source.language or guess_language(script), fix.title


@routes.post(
    BUILDER + "/proposal",
    summary="The extraction's proposal for a script: a templated body with its parameters "
    "pre-marked (falls back to the script with none)",
    body=BuilderSource,
    response=ProposalOut,
    errors=(404, 409),
)
async def proposal(req: Req[BuilderSource, Any]) -> ProposalOut:
    script, language, name = await _source_script(req, req.body)
    extracted = await extract_template(req.llm, script, language)
    schema = extracted.parameters_schema
    # The builder never needs a secret of the script: a detected one reaches it as
    # '[REDACTED]' (made a sensitive parameter there); the round trip reads the real script.
    return ProposalOut(
        name=name,
        language=language,
        source_script=redact_text(script),
        templated_body=redact_text(extracted.templated_body),
        parameters_schema=schema,
        examples={
            spec.name: extracted.original_values[spec.name]
            for spec in schema
            if not spec.sensitive and spec.name in extracted.original_values
        },
        fell_back=extracted.fell_back,
        reason=extracted.reason,
        generator=extracted.generator,
        findings=lint_script(script, language),
    )


@routes.post(
    BUILDER + "/check",
    summary="Check a template being built: errors by field, the preview with example values "
    "(sensitive ones as [REDACTED]), the lint, and the round trip to its source script",
    body=BuilderCheckIn,
    response=BuilderCheckOut,
    errors=(404, 409),
)
async def check(req: Req[BuilderCheckIn, Any]) -> BuilderCheckOut:
    body = req.body
    source = (await _source_script(req, body.source))[0] if body.source else None
    result = check_draft(body.body, body.language, body.parameters_schema, body.examples, source)
    return BuilderCheckOut(
        valid=not result.errors,
        errors=result.errors,
        preview=result.preview,
        findings=lint_script(body.body, body.language),
        round_trip=RoundTrip(**result.round_trip) if result.round_trip else None,
    )


@routes.post(
    DRAFTS,
    summary="Save a template built in the Script Builder as a draft for the library",
    body=DraftIn,
    response=DraftTemplateOut,
    status=201,
    errors=(404, 409),
)
async def create_draft(req: Req[DraftIn, Any]) -> DraftTemplateOut:
    body = req.body
    schema = checked_schema(body.templated_body, body.language, body.parameters_schema)
    script = (await _source_script(req, body.source))[0] if body.source else None
    async with req.database.write() as tx:
        draft = DraftTemplate(
            account_id=req.account_id,
            session_id=body.source.session_id if body.source else None,
            suggested_fix_id=body.source.fix_id if body.source else None,
            name=body.name,
            language=body.language,
            # Drafts rest redacted: the source may hold the very secret made a parameter.
            source_script=redact_text(script or body.templated_body),
            templated_body=redact_text(body.templated_body),
            parameters_schema=[p.model_dump() for p in schema],
            generator="builder",
            fell_back=False,
            status=DraftStatus.DRAFT,
        )
        tx.add(draft)
        await tx.flush()
        return draft_out(draft)


class DraftEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    templated_body: str = Field(min_length=1, max_length=100_000)
    parameters_schema: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


async def _open_draft(tx, req: Req) -> DraftTemplate:
    draft = await get_scoped(
        tx, DraftTemplate, req.path_int("draft_id"), req.account_id, what="Draft template"
    )
    if draft.status != DraftStatus.DRAFT:
        raise Conflict(f"The draft is already {draft.status}.", code="draft_not_open")
    return draft


@routes.put(
    DRAFTS + "/{draft_id}",
    summary="Edit a draft before publishing it (admin)",
    auth="admin",
    body=DraftEdit,
    response=DraftTemplateOut,
    errors=(404, 409),
)
async def edit_draft(req: Req[DraftEdit, Any]) -> DraftTemplateOut:
    async with req.database.write() as tx:
        draft = await _open_draft(tx, req)
        schema = checked_schema(req.body.templated_body, draft.language, req.body.parameters_schema)
        draft.name = req.body.name
        draft.templated_body = redact_text(req.body.templated_body)
        draft.parameters_schema = [p.model_dump() for p in schema]
        await tx.flush()
        return draft_out(draft)


@routes.post(
    DRAFTS + "/{draft_id}/discard",
    summary="Discard a draft: it will not become a template (admin)",
    auth="admin",
    response=DraftTemplateOut,
    errors=(404, 409),
)
async def discard_draft(req: Req) -> DraftTemplateOut:
    async with req.database.write() as tx:
        draft = await _open_draft(tx, req)
        draft.status = DraftStatus.DISCARDED
        await tx.flush()
        return draft_out(draft)
