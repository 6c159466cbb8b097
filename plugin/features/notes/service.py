"""From a session to its documents: the redacted bundle, generation, the preview cache."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.notes.bundle import FixInBundle, GenerationInBundle, NoteBundle
from plugin.features.notes.cache import CachedDocument, PreviewCache
from plugin.features.notes.generator import generate_document
from plugin.features.scripts.models import ScriptGeneration, ScriptTemplate
from plugin.features.sessions.models import Fact, Message
from plugin.kernel.ai_sessions import AISession, get_ai_session
from plugin.kernel.db import Database
from plugin.kernel.llm import CallScope, call_scope
from plugin.kernel.redaction import redact_sensitive, redact_text
from plugin.kernel.states import DocumentKind, MessageRole
from providers.llm import LLMProvider

# The chat a note may draw on: the engineer's latest messages, within a budget.
CHAT_MESSAGES = 40
CHAT_MESSAGE_CHARS = 1500
CHAT_TOTAL_CHARS = 12_000
OPEN_QUESTION_CHARS = 300


@dataclass(frozen=True)
class Preview:
    markdown: str
    from_cache: bool
    state_version: int
    generator: str


async def build_bundle(db: AsyncSession, ai_session: AISession) -> NoteBundle:
    """Everything a note may say, redacted: sensitive parameters by schema, then secret-
    looking strings by pattern. The LLM and the notes never see more than this."""
    facts, fixes, generations = await _session_rows(db, ai_session.id)
    template_ids = {f.template_id for f in fixes} | {g.template_id for g in generations}
    template_ids.discard(None)
    templates = {
        t.id: t
        for t in (
            await db.execute(
                select(ScriptTemplate).where(
                    ScriptTemplate.id.in_(template_ids),
                    ScriptTemplate.account_id == ai_session.account_id,
                )
            )
        ).scalars()
    }
    context = ai_session.ticket_context or {}
    chat, open_question = await _chat(db, ai_session.id)
    return NoteBundle(
        session_title=redact_text(ai_session.title),
        ticket_id=ai_session.psa_ticket_id,
        ticket_summary=_clean(context.get("summary")),
        company_name=context.get("company_name"),
        facts=[redact_text(f) for f in facts],
        fixes=[_fix(f, templates.get(f.template_id)) for f in fixes],
        generations=[_generation(g, templates.get(g.template_id)) for g in generations],
        chat=chat,
        open_question=open_question,
    )


async def _chat(db: AsyncSession, ai_session_id: int) -> tuple[list[str], str | None]:
    """The engineer's latest messages (oldest first, within the budget), and the question
    the assistant asked last when nobody has answered it yet."""
    newest = (
        await db.execute(
            select(Message.role, Message.content)
            .where(Message.session_id == ai_session_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    open_question = None
    if newest is not None and newest.role == MessageRole.ASSISTANT:
        open_question = _last_question(newest.content)
    rows = (
        await db.execute(
            select(Message.content)
            .where(Message.session_id == ai_session_id, Message.role == MessageRole.USER)
            .order_by(Message.id.desc())
            .limit(CHAT_MESSAGES)
        )
    ).scalars()
    chat: list[str] = []
    used = 0
    for content in rows:
        text = redact_text(content[:CHAT_MESSAGE_CHARS])
        if chat and used + len(text) > CHAT_TOTAL_CHARS:
            break
        chat.append(text)
        used += len(text)
    chat.reverse()
    return chat, open_question


def _last_question(text: str) -> str | None:
    questions = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.endswith("?")]
    return redact_text(questions[-1][:OPEN_QUESTION_CHARS]) if questions else None


async def _session_rows(
    db: AsyncSession, ai_session_id: int
) -> tuple[list[str], list[SuggestedFix], list[ScriptGeneration]]:
    """The session's facts, fixes and script generations, oldest first."""
    facts = (
        await db.execute(
            select(Fact.text).where(Fact.session_id == ai_session_id).order_by(Fact.id)
        )
    ).scalars()
    fixes = (
        await db.execute(
            select(SuggestedFix)
            .where(SuggestedFix.session_id == ai_session_id)
            .order_by(SuggestedFix.id)
        )
    ).scalars()
    generations = (
        await db.execute(
            select(ScriptGeneration)
            .where(ScriptGeneration.session_id == ai_session_id)
            .order_by(ScriptGeneration.id)
        )
    ).scalars()
    return list(facts), list(fixes), list(generations)


def _generation(
    generation: ScriptGeneration, template: ScriptTemplate | None
) -> GenerationInBundle:
    return GenerationInBundle(
        template_name=template.name if template is not None else None,
        parameters=_redact_values(generation.parameters_redacted or {}),
        rendered_script=redact_text(generation.rendered_script_redacted),
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
        active=fix.is_active,
        superseded=fix.superseded_at is not None,
        partial_notes=_clean(fix.partial_notes),
        pending_reason=_clean(fix.pending_reason),
        failure_reason=_clean(fix.failure_reason),
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
    database: Database,
    llm: LLMProvider,
    cache: PreviewCache,
    account_id: int,
    session_id: int,
    kind: DocumentKind,
) -> Preview:
    async with database.read() as db:
        version = (await get_ai_session(db, account_id, session_id)).state_version

    async def make() -> CachedDocument:
        # Only a miss pays for the bundle. It is read in one transaction with the version
        # it reflects; if the session moved on meanwhile, the draft is served, not kept.
        async with database.read() as db:
            if not database.is_sqlite:  # one snapshot for all the bundle's queries
                await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            ai_session = await get_ai_session(db, account_id, session_id)
            bundle = await build_bundle(db, ai_session)
            current = ai_session.state_version
        token = call_scope.set(CallScope(account_id, session_id))
        try:
            document = await generate_document(kind, bundle, llm)
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
