"""Internal knowledge-base articles drafted from a session, resolved or escalated (drafting is
allowed after the session is closed, unlike the notes): symptoms, cause, steps, the script
with its parameters, and what the article applies to.

Drafts are redacted and cached by (session, state_version) in the preview cache like the
notes; the engineer edits the draft before posting it (`kb_routes`).
"""

from __future__ import annotations

import json
from datetime import datetime

import structlog
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from plugin.features.notes.bundle import FixInBundle, NoteBundle
from plugin.features.notes.cache import CachedDocument, PreviewCache
from plugin.features.notes.prompts import build_messages
from plugin.features.notes.sections import check_sections, normalise
from plugin.features.notes.service import Preview, build_bundle
from plugin.features.search.models import ResolvedWork
from plugin.kernel.ai_sessions import AISession, get_ai_session
from plugin.kernel.db import Base, Database, UTCDateTime, utcnow
from plugin.kernel.llm import CallScope, call_scope
from plugin.kernel.redaction import redact_text
from plugin.kernel.states import DocumentKind, FixStatus
from providers.llm import LLMProvider
from providers.llm.base import LLMError, LLMRequest

log = structlog.get_logger("fixpilot.kb")

KB_HEADINGS = ["Symptoms", "Cause", "Steps", "Script", "Applies to"]
OFFLINE = "offline"
MAX_TOKENS = 1500
MAX_TITLE_CHARS = 200
KB_SYSTEM_PROMPT = """\
You write internal knowledge-base articles for an MSP's engineers from a troubleshooting
session's data (the <bundle>, and <resolved> with the root cause and resolution of the note
that closed it). The article helps the next engineer who meets the same problem.

Write exactly these sections, in this order, each a "## " heading:
## Symptoms — what the user saw and what was confirmed.
## Cause — the root cause, or that it was not established.
## Steps — numbered steps that fixed it; name attempts that did not help, briefly.
## Script — the script or template used, with its parameters, in a fenced code block; or
   say that no script was needed.
## Applies to — the products, versions and environments it applies to, as far as known.

- Start directly with "## Symptoms"; no title or other headings. Every section has content.
- Use ONLY the data given. Never invent causes, steps or results.
- Never include secrets; do not reconstruct [REDACTED] values.
- Customer names and people's names stay out: the article is about the problem."""


class KBArticle(Base):
    """A posted article: stored in Fixpilot, and in the PSA's knowledge base when the account
    enables it (`external_id`). One per (session, state): posting a state again returns it."""

    __tablename__ = "kb_articles"
    __table_args__ = (UniqueConstraint("session_id", "state_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    state_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    markdown: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def article_title(ai_session: AISession) -> str:
    summary = (ai_session.ticket_context or {}).get("summary") or ai_session.title
    return redact_text(summary).strip()[:MAX_TITLE_CHARS] or f"Session {ai_session.id}"


async def resolved_record(db: AsyncSession, ai_session: AISession) -> ResolvedWork | None:
    """The session's entry in the similar-work index: the root cause and resolution of the
    note that closed it (None while the session is open)."""
    return (
        await db.execute(
            select(ResolvedWork)
            .where(
                ResolvedWork.account_id == ai_session.account_id,
                ResolvedWork.session_id == ai_session.id,
            )
            .limit(1)
        )
    ).scalar_one_or_none()


def compose_kb_offline(bundle: NoteBundle, record: ResolvedWork | None) -> str:
    """The article from the data alone, without a model."""
    fix = (
        next((f for f in reversed(bundle.fixes) if f.status == FixStatus.APPLIED_SUCCESS), None)
        or bundle.active_fix
    )
    failed = [f.title for f in bundle.fixes if f.status == FixStatus.APPLIED_FAILED]
    symptoms = [bundle.ticket_summary or bundle.session_title]
    symptoms += [f"- {_line(fact)}" for fact in bundle.facts]
    cause = _line(record.root_cause) if record and record.root_cause else "Not established."
    steps = []
    if fix is not None:
        steps.append(f"1. {_line(fix.title)}" + (f": {_line(fix.summary)}" if fix.summary else ""))
    if record and record.resolution:
        steps.append(f"{len(steps) + 1}. {_line(record.resolution)}")
    if failed:
        steps.append("Tried first, did not help: " + "; ".join(_line(t) for t in failed) + ".")
    sections = {
        "Symptoms": "\n".join(symptoms),
        "Cause": cause,
        "Steps": "\n".join(steps) or "No fix was verified; see the escalation.",
        "Script": _script_section(fix, bundle),
        "Applies to": _applies_to(bundle),
    }
    return "\n\n".join(f"## {heading}\n{sections[heading]}" for heading in KB_HEADINGS)


def _line(text: str) -> str:
    return " ".join(text.split())


def _script_section(fix: FixInBundle | None, bundle: NoteBundle) -> str:
    if fix is not None and fix.template_name:
        parameters = json.dumps(fix.parameters, sort_keys=True) if fix.parameters else "none"
        return f"Library template {fix.template_name}, parameters: {parameters}"
    script = fix.script if fix is not None else None
    if not script and bundle.generations:
        script = bundle.generations[-1].rendered_script
    return f"```\n{script.strip()}\n```" if script else "No script was needed."


def _applies_to(bundle: NoteBundle) -> str:
    where = bundle.ticket_summary or bundle.session_title
    ticket = f" (ticket #{bundle.ticket_id})" if bundle.ticket_id else ""
    return f"Problems like: {_line(where)}{ticket}."


async def draft_kb_article(
    bundle: NoteBundle, record: ResolvedWork | None, llm: LLMProvider
) -> CachedDocument:
    """The LLM's article when it has the required sections, else the offline composer's
    (a fallback after an LLM error is served, not kept)."""
    offline = compose_kb_offline(bundle, record)
    if llm.name == OFFLINE:
        return CachedDocument(offline, OFFLINE)
    resolved = {
        "root_cause": record.root_cause if record else None,
        "resolution": record.resolution if record else None,
    }
    messages = build_messages(bundle)
    messages[0]["content"] = (
        f"<resolved>\n{json.dumps(resolved, ensure_ascii=False)}\n</resolved>\n\n"
        + messages[0]["content"]
    )
    request = LLMRequest(
        kind=DocumentKind.KB_ARTICLE.value,
        system=KB_SYSTEM_PROMPT,
        messages=messages,
        max_tokens=MAX_TOKENS,
        context={"bundle": bundle.as_dict()},
    )
    try:
        result = await llm.generate(request)
    except LLMError as exc:
        log.warning("kb.offline_fallback", reason="llm_error", error=type(exc).__name__)
        return CachedDocument(offline, OFFLINE, persist=False)
    markdown = normalise(result.text, KB_HEADINGS)
    problems = check_sections(markdown, KB_HEADINGS)
    if problems:
        log.warning("kb.offline_fallback", reason="bad_structure", problems=problems)
        return CachedDocument(offline, OFFLINE)
    return CachedDocument(markdown, result.generator)


async def preview_kb_article(
    database: Database, llm: LLMProvider, cache: PreviewCache, account_id: int, session_id: int
) -> Preview:
    async with database.read() as db:
        version = (await get_ai_session(db, account_id, session_id)).state_version

    async def make() -> CachedDocument:
        async with database.read() as db:
            ai_session = await get_ai_session(db, account_id, session_id)
            bundle = await build_bundle(db, ai_session)
            record = await resolved_record(db, ai_session)
            current = ai_session.state_version
        token = call_scope.set(CallScope(account_id, session_id))
        try:
            draft = await draft_kb_article(bundle, record, llm)
        finally:
            call_scope.reset(token)
        return CachedDocument(
            markdown=redact_text(draft.markdown),
            generator=draft.generator,
            persist=draft.persist and current == version,
        )

    found = await cache.get_or_make((DocumentKind.KB_ARTICLE.value, session_id, version), make)
    return Preview(
        markdown=found.document.markdown,
        from_cache=found.from_cache,
        state_version=version,
        generator=found.document.generator,
    )
