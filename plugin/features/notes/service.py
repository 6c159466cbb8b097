"""From a session to its documents: the redacted bundle, generation, the preview cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.fixes.models import SuggestedFix
from plugin.llm.service import CallScope, call_scope
from plugin.notes.bundle import FixInBundle, GenerationInBundle, NoteBundle
from plugin.notes.cache import CachedDocument, PreviewCache
from plugin.notes.generator import DocumentKind, generate_document
from plugin.scripts.models import ScriptGeneration, ScriptTemplate
from plugin.scripts.redaction import redact_sensitive, redact_text
from plugin.services import Services
from plugin.sessions.models import AISession, Fact
from plugin.sessions.service import get_session


@dataclass(frozen=True)
class Preview:
    markdown: str
    from_cache: bool
    state_version: int
    generator: str


async def build_bundle(session: AsyncSession, ai_session: AISession) -> NoteBundle:
    """Everything a note may say, redacted: sensitive parameters by schema, then secret-
    looking strings by pattern. The LLM and the notes never see more than this."""
    facts = (
        (
            await session.execute(
                select(Fact.text).where(Fact.session_id == ai_session.id).order_by(Fact.id)
            )
        )
        .scalars()
        .all()
    )
    fixes = (
        (
            await session.execute(
                select(SuggestedFix)
                .where(SuggestedFix.session_id == ai_session.id)
                .order_by(SuggestedFix.id)
            )
        )
        .scalars()
        .all()
    )
    generations = (
        (
            await session.execute(
                select(ScriptGeneration)
                .where(ScriptGeneration.session_id == ai_session.id)
                .order_by(ScriptGeneration.id)
            )
        )
        .scalars()
        .all()
    )
    template_ids = {f.template_id for f in fixes} | {g.template_id for g in generations}
    template_ids.discard(None)
    templates = {
        t.id: t
        for t in (
            await session.execute(
                select(ScriptTemplate).where(
                    ScriptTemplate.id.in_(template_ids),
                    ScriptTemplate.account_id == ai_session.account_id,
                )
            )
        ).scalars()
    }
    context = ai_session.ticket_context or {}
    return NoteBundle(
        session_title=redact_text(ai_session.title),
        ticket_id=ai_session.psa_ticket_id,
        ticket_summary=_clean(context.get("summary")),
        company_name=context.get("company_name"),
        facts=[redact_text(f) for f in facts],
        fixes=[_fix(f, templates.get(f.template_id)) for f in fixes],
        generations=[
            GenerationInBundle(
                template_name=templates[g.template_id].name if g.template_id in templates else None,
                parameters=_redact_values(g.parameters_redacted or {}),
                rendered_script=redact_text(g.rendered_script_redacted),
            )
            for g in generations
        ],
    )


def _fix(fix: SuggestedFix, template: ScriptTemplate | None) -> FixInBundle:
    parameters = fix.ai_drafted_parameters or {}
    if template is not None:
        parameters = redact_sensitive(parameters, template.parameters_schema or [])
    script = fix.edited_script or fix.ai_drafted_script
    return FixInBundle(
        title=redact_text(fix.title),
        summary=redact_text(fix.summary or ""),
        status=fix.status,
        confidence=fix.confidence,
        active=fix.superseded_at is None and fix.status != "dismissed",
        superseded=fix.superseded_at is not None,
        partial_notes=_clean(fix.partial_notes),
        pending_reason=_clean(fix.pending_reason),
        applied=fix.applied_at is not None,
        verified=fix.verified_at is not None,
        script=_clean(script),
        template_name=template.name if template else None,
        parameters=_redact_values(parameters),
    )


def _clean(text: str | None) -> str | None:
    return redact_text(text) if text else text


def _redact_values(parameters: dict[str, Any]) -> dict[str, Any]:
    redacted = redact_sensitive(parameters, [])
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in redacted.items()}


async def preview(
    services: Services, cache: PreviewCache, account_id: int, session_id: int, kind: DocumentKind
) -> Preview:
    async with services.db.read() as session:
        version = (await get_session(session, account_id, session_id)).state_version

    async def make() -> CachedDocument:
        # Only a miss pays for the bundle. It is read in one transaction with the version
        # it reflects; if the session moved on meanwhile, the draft is served, not kept.
        async with services.db.read() as session:
            if not services.db.is_sqlite:  # one snapshot for all the bundle's queries
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            ai_session = await get_session(session, account_id, session_id)
            bundle = await build_bundle(session, ai_session)
            current = ai_session.state_version
        token = call_scope.set(CallScope(account_id, session_id))
        try:
            document = await generate_document(kind, bundle, services.llm)
        finally:
            call_scope.reset(token)
        # An offline stand-in for a failed LLM is served but not kept either: once the LLM
        # is back the same state deserves the real draft.
        return CachedDocument(
            markdown=redact_text(document.markdown),
            generator=document.generator,
            persist=document.fallback_reason is None and current == version,
        )

    found = await cache.get_or_make((kind.value, session_id, version), make)
    return Preview(
        markdown=found.document.markdown,
        from_cache=found.from_cache,
        state_version=version,
        generator=found.document.generator,
    )
