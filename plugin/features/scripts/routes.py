"""The script library over HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.schemas import DecisionIn, DecisionOut
from plugin.features.scripts.decision import DecisionRequest, decide_fix
from plugin.features.scripts.download import script_download
from plugin.features.scripts.models import DraftTemplate, ScriptTemplate
from plugin.features.scripts.schemas import (
    DraftTemplateList,
    DraftTemplateOut,
    GenerateIn,
    GenerateOut,
    PromoteIn,
    TemplateIn,
    TemplateList,
    TemplateOut,
)
from plugin.features.scripts.secret_values import resolve_secret_values
from plugin.features.scripts.service import (
    acknowledgement,
    checked_schema,
    draft_out,
    ensure_unique_slug,
    get_template,
    slugify,
    store_generation,
    template_out,
)
from plugin.features.scripts.track_record import track_records
from plugin.kernel.ai_sessions import bump_state_version, get_ai_session
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Conflict
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.pagination import fetch_page
from plugin.kernel.script_lint import lint_script
from plugin.kernel.states import DraftStatus, FixDecision, TemplateOrigin
from plugin.kernel.tenancy import get_scoped

routes = RouteTable("scripts")
TEMPLATES = "/api/v1/scripts/templates"


class ListQuery(BaseModel):
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=500)
    language: str | None = None


@routes.get(
    TEMPLATES,
    summary="The library, with each template's track record",
    query=ListQuery,
    response=TemplateList,
)
async def list_templates(req: Req[Any, ListQuery]) -> TemplateList:
    q = req.query
    stmt = select(ScriptTemplate).where(ScriptTemplate.account_id == req.account_id)
    if q.language:
        stmt = stmt.where(ScriptTemplate.language == q.language)
    async with req.database.read() as db:
        rows, cursor = await fetch_page(
            db, stmt, ScriptTemplate.id, q.cursor, q.limit, newest_first=False
        )
        records = await track_records(db, req.account_id, [t.id for t in rows])
    return TemplateList(
        items=[template_out(t, records.get(t.id)) for t in rows], next_cursor=cursor
    )


@routes.get(
    TEMPLATES + "/{template_id}",
    summary="One template with its parameters schema and track record",
    response=TemplateOut,
    errors=(404,),
)
async def get_one_template(req: Req) -> TemplateOut:
    async with req.database.read() as db:
        template = await get_template(db, req.account_id, req.path_int("template_id"))
        records = await track_records(db, req.account_id, [template.id])
    return template_out(template, records.get(template.id))


@routes.post(
    TEMPLATES,
    summary="Add a template (admin)",
    auth="admin",
    body=TemplateIn,
    response=TemplateOut,
    status=201,
    errors=(409,),
)
async def create_template(req: Req[TemplateIn, Any]) -> TemplateOut:
    body = req.body
    schema = checked_schema(body.body, body.language, body.parameters_schema)
    acknowledged = acknowledgement(body.body, body.acknowledge_findings, req.principal.actor)
    slug = body.slug or slugify(body.name)
    async with req.database.write() as tx:
        await ensure_unique_slug(tx, req.account_id, slug)
        template = ScriptTemplate(
            account_id=req.account_id,
            slug=slug,
            name=body.name,
            description=body.description,
            keywords=body.keywords,
            language=body.language,
            body=body.body,
            parameters_schema=[p.model_dump() for p in schema],
            origin=TemplateOrigin.CUSTOM,
            findings_acknowledgement=acknowledged,
        )
        tx.add(template)
        await tx.flush()
        return template_out(template)


@routes.put(
    TEMPLATES + "/{template_id}",
    summary="Replace a template (admin)",
    auth="admin",
    body=TemplateIn,
    response=TemplateOut,
    errors=(404, 409),
)
async def update_template(req: Req[TemplateIn, Any]) -> TemplateOut:
    body = req.body
    schema = checked_schema(body.body, body.language, body.parameters_schema)
    acknowledged = acknowledgement(body.body, body.acknowledge_findings, req.principal.actor)
    async with req.database.write() as tx:
        template = await get_template(tx, req.account_id, req.path_int("template_id"))
        slug = body.slug or template.slug
        await ensure_unique_slug(tx, req.account_id, slug, exclude_id=template.id)
        template.slug = slug
        template.name = body.name
        template.description = body.description
        template.keywords = body.keywords
        template.language = body.language
        template.body = body.body
        template.parameters_schema = [p.model_dump() for p in schema]
        template.edited_at = utcnow()  # a shipped template keeps this version from now on
        template.findings_acknowledgement = acknowledged
        await tx.flush()
        records = await track_records(tx, req.account_id, [template.id])
        return template_out(template, records.get(template.id))


@routes.post(
    "/api/v1/scripts/generate",
    summary="Render a template with parameters (validated; sensitive values are not stored)",
    body=GenerateIn,
    response=GenerateOut,
    status=201,
    errors=(404, 409),
)
async def generate(req: Req[GenerateIn, Any]) -> GenerateOut:
    body = req.body
    async with req.database.write() as tx:
        template = await get_template(tx, req.account_id, body.template_id)
        if body.ai_session_id is not None:
            await get_ai_session(tx, req.account_id, body.ai_session_id, for_update=True)
        values = await resolve_secret_values(
            tx,
            req.instance.box(),
            template.parameters_schema or [],
            body.parameters,
            body.ai_session_id,
        )
        generation, rendered = await store_generation(
            tx,
            account_id=req.account_id,
            template=template,
            values=values,
            ai_session_id=body.ai_session_id,
            actor=req.principal.actor,
        )
        version = None
        if body.ai_session_id is not None:
            version = await bump_state_version(tx, body.ai_session_id)
        return GenerateOut(
            generation_id=generation.id,
            rendered_script=rendered,
            findings=lint_script(rendered, template.language),
            download=script_download(rendered, template.language, template.slug),
            state_version=version,
        )


class DraftQuery(BaseModel):
    status: str | None = "draft"
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=500)


@routes.get(
    "/api/v1/scripts/draft-templates",
    summary="Templates drafted from one-off scripts",
    query=DraftQuery,
    response=DraftTemplateList,
)
async def list_drafts(req: Req[Any, DraftQuery]) -> DraftTemplateList:
    q = req.query
    stmt = select(DraftTemplate).where(DraftTemplate.account_id == req.account_id)
    if q.status:
        stmt = stmt.where(DraftTemplate.status == q.status)
    async with req.database.read() as db:
        rows, cursor = await fetch_page(
            db, stmt, DraftTemplate.id, q.cursor, q.limit, newest_first=True
        )
    return DraftTemplateList(items=[draft_out(d) for d in rows], next_cursor=cursor)


@routes.get(
    "/api/v1/scripts/draft-templates/{draft_id}",
    summary="One drafted template",
    response=DraftTemplateOut,
    errors=(404,),
)
async def get_draft(req: Req) -> DraftTemplateOut:
    async with req.database.read() as db:
        return draft_out(await _draft(db, req.account_id, req.path_int("draft_id")))


async def _draft(db: AsyncSession, account_id: int, draft_id: int) -> DraftTemplate:
    return await get_scoped(db, DraftTemplate, draft_id, account_id, what="Draft template")


@routes.post(
    "/api/v1/scripts/draft-templates/{draft_id}/promote",
    summary="Promote a draft into the library (admin)",
    auth="admin",
    body=PromoteIn,
    response=TemplateOut,
    status=201,
    errors=(404, 409),
)
async def promote_draft(req: Req[PromoteIn, Any]) -> TemplateOut:
    async with req.database.write() as tx:
        draft = await _draft(tx, req.account_id, req.path_int("draft_id"))
        if draft.status != DraftStatus.DRAFT:
            raise Conflict(f"The draft is already {draft.status}.", code="draft_not_open")
        schema = checked_schema(draft.templated_body, draft.language, draft.parameters_schema)
        acknowledged = acknowledgement(
            draft.templated_body, req.body.acknowledge_findings, req.principal.actor
        )
        name = req.body.name or draft.name
        slug = slugify(name)
        await ensure_unique_slug(tx, req.account_id, slug)
        template = ScriptTemplate(
            account_id=req.account_id,
            slug=slug,
            name=name,
            description=req.body.description,
            keywords=req.body.keywords,
            language=draft.language,
            body=draft.templated_body,
            parameters_schema=[p.model_dump() for p in schema],
            origin=TemplateOrigin.PROMOTED,
            findings_acknowledgement=acknowledged,
        )
        tx.add(template)
        await tx.flush()
        draft.status = DraftStatus.PROMOTED
        draft.promoted_template_id = template.id
        return template_out(template)


@routes.post(
    "/api/v1/ai-sessions/{session_id}/suggested-fixes/{fix_id}/decision",
    summary="Decide how to run the fix: one_off, draft_template, build_template or dismissed",
    body=DecisionIn,
    response=DecisionOut,
    errors=(400, 404, 409),
    tag="suggested-fixes",
)
async def decide(req: Req[DecisionIn, Any]) -> DecisionOut:
    ask = DecisionRequest(
        principal=req.caller,
        ai_session_id=req.path_int("session_id"),
        fix_id=req.path_int("fix_id"),
        decision=FixDecision(req.body.decision),
        edited_script=req.body.edited_script,
    )
    return await decide_fix(req.database, req.llm, ask)
