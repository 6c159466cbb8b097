"""One assistant turn: store the engineer's message, build the prompt within a budget,
call the LLM, then store the reply and apply its markers in one transaction.

No database transaction is held while the LLM thinks: the engineer's message is committed
first (so it is never lost), the reply and everything it changes are committed together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.chat.markers import ParsedReply, parse_markers
from plugin.features.chat.prompts import CHAT_SYSTEM_PROMPT, build_context_block
from plugin.features.chat.schemas import FixOutcomeEvent, MessageCreate, TurnOut
from plugin.features.checks.models import DiagnosticCheck
from plugin.features.checks.service import check_out, propose_checks
from plugin.features.fixes.models import SuggestedFix
from plugin.features.fixes.service import NewSuggestion, active_fix, fix_out, suggest, transition
from plugin.features.scripts.models import ScriptTemplate
from plugin.features.scripts.track_record import matching_templates, template_for_prompt
from plugin.features.search.service import similar_for_prompt
from plugin.features.sessions.models import Fact, Message
from plugin.features.sessions.service import message_out
from plugin.kernel.ai_sessions import (
    AISession,
    bump_state_version,
    get_ai_session,
    require_active,
)
from plugin.kernel.db import Database
from plugin.kernel.errors import ApiError, Conflict, NotFound, Unprocessable
from plugin.kernel.http import Principal
from plugin.kernel.redaction import redact_text
from plugin.kernel.secret_memory import SecretBox, take_in
from plugin.kernel.states import MessageRole
from providers.llm import LLMRequest

log = structlog.get_logger("fixpilot.chat")

RECENT_MESSAGES_SCANNED = 200  # a bound on the query; the token budget decides what is sent
CHARS_PER_TOKEN = 4
MAX_REPLY_TOKENS = 1500


@dataclass(frozen=True)
class PreparedTurn:
    account_id: int
    session_id: int
    user_message: Message
    request: LLMRequest


async def begin_turn(
    database: Database,
    box: SecretBox,
    history_token_budget: int,
    principal: Principal,
    ai_session_id: int,
    body: MessageCreate,
) -> PreparedTurn:
    """Store the engineer's message (redacted: its secrets go to the session's memory)
    and build the request for the assistant."""

    async def store(tx: AsyncSession) -> tuple[AISession, Message]:
        # The session row first, as every write of a session's state: one lock order.
        ai_session = await get_ai_session(tx, principal.account_id, ai_session_id, for_update=True)
        require_active(ai_session)
        if body.retry_of is not None:
            return ai_session, await _unanswered_message(tx, ai_session.id, body.retry_of)
        if not body.content.strip():
            raise Unprocessable(
                "Write a message, or send retry_of to answer an earlier one.",
                details={"fields": {"content": "must not be blank"}},
            )
        taken = await take_in(tx, box, ai_session.id, body.content, source="chat")
        user_message = Message(
            session_id=ai_session.id,
            role=MessageRole.USER,
            content=taken.text,
            redactions=taken.redactions or None,
            author=principal.actor,
        )
        tx.add(user_message)
        await tx.flush()
        await bump_state_version(tx, ai_session.id)
        return ai_session, user_message

    ai_session, user_message = await database.write_retrying(store)
    request = await build_request(database, history_token_budget, ai_session, user_message)
    return PreparedTurn(principal.account_id, ai_session.id, user_message, request)


async def _unanswered_message(db: AsyncSession, ai_session_id: int, message_id: int) -> Message:
    message = (
        await db.execute(
            select(Message).where(
                Message.id == message_id,
                Message.session_id == ai_session_id,
                Message.role == MessageRole.USER,
            )
        )
    ).scalar_one_or_none()
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.", code="message_not_found")
    answered = (
        await db.execute(select(Message.id).where(Message.reply_to_id == message_id))
    ).scalar_one_or_none()
    if answered is not None:
        raise Conflict(
            "That message has already been answered.",
            code="already_answered",
            details={"assistant_message_id": answered},
        )
    return message


@dataclass(frozen=True)
class _TurnContext:
    recent: list[Message]  # newest first
    facts: list[str]
    fix: SuggestedFix | None
    templates: list[dict[str, Any]]
    similar: list[dict[str, Any]]
    # The session's fixes, oldest first: what the offline assistant must not suggest again.
    session_fixes: list[dict[str, Any]]


async def build_request(
    database: Database, history_token_budget: int, ai_session: AISession, user_message: Message
) -> LLMRequest:
    async with database.read() as db:
        turn = await _load_context(db, ai_session, user_message)
    history = _within_budget(turn.recent, history_token_budget * CHARS_PER_TOKEN)
    context = build_context_block(
        ticket=_ticket_for_prompt(ai_session),
        facts=[redact_text(f) for f in turn.facts],
        active_fix=_fix_for_prompt(turn.fix),
        templates=turn.templates,
        similar=turn.similar,
    )
    messages = _alternating(history)
    messages[-1]["content"] = f"{redact_text(context)}\n\n# Engineer\n{messages[-1]['content']}"
    return LLMRequest(
        kind="chat",
        system=CHAT_SYSTEM_PROMPT,
        messages=messages,
        max_tokens=MAX_REPLY_TOKENS,
        context={
            "templates": turn.templates,
            "engineer_messages": [
                redact_text(m.content) for m in history if m.role == MessageRole.USER
            ],
            "session_fixes": turn.session_fixes,
        },
    )


async def _load_context(
    db: AsyncSession, ai_session: AISession, user_message: Message
) -> _TurnContext:
    recent = list(
        (
            await db.execute(
                select(Message)
                .where(Message.session_id == ai_session.id, Message.id <= user_message.id)
                .order_by(Message.id.desc())
                .limit(RECENT_MESSAGES_SCANNED)
            )
        ).scalars()
    )
    facts = list(
        (
            await db.execute(
                select(Fact.text).where(Fact.session_id == ai_session.id).order_by(Fact.id)
            )
        ).scalars()
    )
    fix = await active_fix(db, ai_session.id)
    conversation = " ".join(m.content for m in recent[:6] if m.role == MessageRole.USER)
    templates = await matching_templates(db, ai_session.account_id, conversation)
    if fix is not None and fix.template_id and all(t["id"] != fix.template_id for t in templates):
        # The active fix's template is always described, matched or not.
        template = (
            await db.execute(
                select(ScriptTemplate).where(
                    ScriptTemplate.id == fix.template_id,
                    ScriptTemplate.account_id == ai_session.account_id,
                )
            )
        ).scalar_one_or_none()
        if template is not None:
            described = template_for_prompt(template, {})
            templates.append({k: described[k] for k in _ACTIVE_TEMPLATE_FIELDS})
    fixes = await db.execute(
        select(SuggestedFix)
        .where(SuggestedFix.session_id == ai_session.id)
        .order_by(SuggestedFix.id)
    )
    session_fixes = [
        {"template_id": f.template_id, "status": f.status, "active": f.is_active}
        for f in fixes.scalars()
    ]
    similar = await _similar_evidence(db, ai_session)
    return _TurnContext(recent, facts, fix, templates, similar, session_fixes)


async def _similar_evidence(db: AsyncSession, ai_session: AISession) -> list[dict[str, Any]]:
    """The top similar resolved tickets; the turn goes on without them when search fails
    (logged: the engineer still gets an answer)."""
    try:
        return [evidence.as_prompt() for evidence in await similar_for_prompt(db, ai_session)]
    except Exception as exc:  # search is an aid to the answer, never a reason to fail it
        log.warning("similar_evidence_unavailable", error=type(exc).__name__)
        return []


_ACTIVE_TEMPLATE_FIELDS = ("id", "name", "description", "parameters_schema", "language")


def _within_budget(newest_first: list[Message], budget_chars: int) -> list[Message]:
    """The most recent messages whose text fits the budget, oldest first; the engineer's
    current message is always kept."""
    kept: list[Message] = []
    used = 0
    for message in newest_first:
        size = len(message.content)
        if kept and used + size > budget_chars:
            break
        kept.append(message)
        used += size
    kept.reverse()
    return kept


def _alternating(history: list[Message]) -> list[dict[str, str]]:
    """user/assistant alternation starting with the user (merging runs, e.g. failed turns)."""
    messages: list[dict[str, str]] = []
    for message in history:
        text = redact_text(message.content)
        if not messages and message.role != MessageRole.USER:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"] += "\n\n" + text
        else:
            messages.append({"role": message.role, "content": text})
    return messages


def _ticket_for_prompt(ai_session: AISession) -> dict[str, Any] | None:
    if ai_session.psa_ticket_id is None:
        return None
    ctx = ai_session.ticket_context or {}
    return {
        "id": ai_session.psa_ticket_id,
        "summary": ctx.get("summary") or ai_session.title,
        "company": ctx.get("company_name"),
        "board": ctx.get("board_name"),
        "status": ctx.get("status_name"),
        "description": ctx.get("description"),
    }


def _fix_for_prompt(fix: SuggestedFix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    data = fix_out(fix).model_dump()
    for key in ("ai_drafted_script", "edited_script", "summary", "partial_notes", "pending_reason"):
        if data.get(key):
            data[key] = redact_text(data[key])
    return data


async def finish_turn(
    database: Database, prepared: PreparedTurn, reply_text: str, generator: str
) -> TurnOut:
    parsed = parse_markers(reply_text)
    for reason in parsed.ignored:
        log.info("marker_ignored", reason=reason, session_id=prepared.session_id)
    try:
        # A deadlock victim is run again: the assistant's reply, already paid for, is kept.
        return await database.write_retrying(
            lambda tx: _store_reply(tx, prepared, parsed, generator)
        )
    except IntegrityError as exc:
        if "reply_to_id" not in str(exc.orig):
            raise
        # Another request answered the same message in the meantime (a double retry).
        raise Conflict("That message has already been answered.", code="already_answered") from None


async def _store_reply(
    tx: AsyncSession, prepared: PreparedTurn, parsed: ParsedReply, generator: str
) -> TurnOut:
    # The row lock orders concurrent turns of one session on PostgreSQL (SQLite's write
    # transaction already does), so two suggestions can't both become the active fix.
    ai_session = await get_ai_session(tx, prepared.account_id, prepared.session_id, for_update=True)
    assistant = Message(
        session_id=ai_session.id,
        role=MessageRole.ASSISTANT,
        content=parsed.visible_text,
        reply_to_id=prepared.user_message.id,
        generator=generator,
    )
    tx.add(assistant)
    await tx.flush()

    outcome_event = None
    suggested = None
    checks: list[DiagnosticCheck] = []
    if ai_session.is_active:
        # The outcome refers to the fix that was active when the engineer wrote; apply it
        # before a suggestion in the same reply supersedes that fix.
        if parsed.outcome is not None:
            outcome_event = await _apply_outcome(tx, ai_session.id, parsed)
        if parsed.suggestion is not None:
            suggested = await _apply_suggestion(tx, ai_session, parsed, assistant.id)
        if parsed.checks:
            checks = await propose_checks(tx, ai_session.id, parsed.checks, assistant.id)
    elif parsed.outcome or parsed.suggestion or parsed.checks:
        log.info("markers_ignored_session_closed", session_id=ai_session.id)
    version = await bump_state_version(tx, ai_session.id)
    return TurnOut(
        user_message=message_out(prepared.user_message),
        assistant_message=message_out(assistant),
        suggested_fix=fix_out(suggested) if suggested else None,
        fix_outcome=outcome_event,
        proposed_checks=[check_out(check) for check in checks],
        state_version=version,
    )


async def _apply_outcome(
    tx: AsyncSession, ai_session_id: int, parsed: ParsedReply
) -> FixOutcomeEvent | None:
    marker = parsed.outcome
    assert marker is not None
    fix = await active_fix(tx, ai_session_id)
    if fix is None:
        log.info("outcome_marker_without_active_fix", session_id=ai_session_id)
        return None
    try:
        await transition(
            tx,
            fix,
            target=marker.outcome.value,
            notes=marker.notes,
            pending_reason=marker.pending_reason,
        )
    except ApiError as exc:
        log.info("outcome_marker_refused", fix_id=fix.id, code=exc.code)
        return FixOutcomeEvent(
            fix_id=fix.id, outcome=marker.outcome.value, applied=False, ignored_reason=exc.message
        )
    return FixOutcomeEvent(fix_id=fix.id, outcome=marker.outcome.value, applied=True)


async def _apply_suggestion(
    tx: AsyncSession, ai_session: AISession, parsed: ParsedReply, message_id: int
) -> SuggestedFix:
    marker = parsed.suggestion
    assert marker is not None
    template_id = marker.template_id
    if template_id is not None:
        owned = (
            await tx.execute(
                select(ScriptTemplate.id).where(
                    ScriptTemplate.id == template_id,
                    ScriptTemplate.account_id == ai_session.account_id,
                )
            )
        ).scalar_one_or_none()
        if owned is None:
            log.info("suggestion_unknown_template", template_id=template_id)
            template_id = None
    return await suggest(
        tx,
        ai_session.id,
        NewSuggestion(
            title=marker.title,
            summary=marker.summary,
            confidence=marker.confidence,
            template_id=template_id,
            parameters=marker.parameters or None,
            script=marker.script,
        ),
        source_message_id=message_id,
    )
