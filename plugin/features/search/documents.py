"""What the index stores for one piece of resolved work, built from a closed session or an
imported closed ticket, and redacted before anything is stored or embedded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.search.terms import term_text
from plugin.features.search.text_index import SearchFields
from plugin.features.sessions.models import Fact, Message
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import utcnow
from plugin.kernel.redaction import redact_text
from plugin.kernel.states import (
    FixStatus,
    MessageRole,
    SessionStatus,
    WorkOutcome,
    WorkSource,
)
from providers.psa import ClosedTicket, NoteKind

# Fixes that were tried: a suggestion never applied, or dismissed, taught nothing.
TRIED = (
    FixStatus.APPLIED_SUCCESS,
    FixStatus.APPLIED_FAILED,
    FixStatus.APPLIED_PARTIAL,
    FixStatus.APPLIED_PENDING,
)
# What the engineer first wrote describes the problem in their words.
PROBLEM_MESSAGES = 2
MAX_FIELD_CHARS = 4000
_OUTCOMES = {
    SessionStatus.RESOLVED: WorkOutcome.RESOLVED,
    SessionStatus.RESOLVED_LOCAL: WorkOutcome.RESOLVED,
    SessionStatus.ESCALATED: WorkOutcome.ESCALATED,
    SessionStatus.ESCALATED_LOCAL: WorkOutcome.ESCALATED,
}
_HEADING = re.compile(r"^ {0,3}#{1,2}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class WorkDocument:
    doc_key: str
    source: WorkSource
    summary: str
    outcome: WorkOutcome
    closed_at: datetime
    session_id: int | None = None
    psa_ticket_id: int | None = None
    problem: str = ""
    facts: list[str] = field(default_factory=list)
    fixes: list[dict[str, Any]] = field(default_factory=list)
    root_cause: str = ""
    resolution: str = ""

    def redacted(self) -> WorkDocument:
        def clean(value: str) -> str:
            return redact_text(value)[:MAX_FIELD_CHARS]

        return replace(
            self,
            summary=clean(self.summary)[:500],
            problem=clean(self.problem),
            facts=[clean(f) for f in self.facts],
            fixes=[
                {**fix, "title": clean(fix["title"]), "notes": clean(fix.get("notes") or "")}
                for fix in self.fixes
            ],
            root_cause=clean(self.root_cause),
            resolution=clean(self.resolution),
        )

    @property
    def meaning_text(self) -> str:
        """What the embedding describes: the problem as it was reported."""
        return f"{self.summary}. {self.problem}"

    def search_fields(self) -> SearchFields:
        fixes = " ".join(f"{fix['title']} {fix.get('notes') or ''}" for fix in self.fixes)
        return SearchFields(
            problem=term_text(f"{self.summary} {self.problem}"),
            facts=term_text(" ".join(self.facts)),
            fixes=term_text(fixes),
            resolution=term_text(f"{self.root_cause} {self.resolution}"),
        )


def session_doc_key(ai_session: AISession) -> str:
    if ai_session.psa_ticket_id is not None:
        return ticket_doc_key(ai_session.psa_ticket_id)
    return f"session:{ai_session.id}"


def ticket_doc_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def note_sections(markdown: str) -> dict[str, str]:
    """Top-level sections of a note by lower-cased heading ("root cause" → its text)."""
    sections: dict[str, str] = {}
    matches = list(_HEADING.finditer(markdown))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        heading = match.group(1).strip().strip("*_").rstrip(":").lower().replace("\u2019", "'")
        sections[heading] = markdown[match.end() : end].strip()
    return sections


async def session_document(
    db: AsyncSession, ai_session: AISession, note_markdown: str
) -> WorkDocument:
    """The closed session as resolved work: its problem, facts, what was tried and how it
    went, and the root cause and resolution from the note that closed it."""
    facts = (
        await db.execute(
            select(Fact.text).where(Fact.session_id == ai_session.id).order_by(Fact.id)
        )
    ).scalars()
    tried = (
        await db.execute(
            select(SuggestedFix)
            .where(SuggestedFix.session_id == ai_session.id, SuggestedFix.status.in_(TRIED))
            .order_by(SuggestedFix.id)
        )
    ).scalars()
    first_messages = (
        await db.execute(
            select(Message.content)
            .where(Message.session_id == ai_session.id, Message.role == MessageRole.USER)
            .order_by(Message.id)
            .limit(PROBLEM_MESSAGES)
        )
    ).scalars()
    sections = note_sections(note_markdown)
    context = ai_session.ticket_context or {}
    problem = " ".join([sections.get("problem", ""), *first_messages]).strip()
    return WorkDocument(
        doc_key=session_doc_key(ai_session),
        source=WorkSource.SESSION,
        summary=context.get("summary") or ai_session.title,
        outcome=_OUTCOMES.get(SessionStatus(ai_session.status), WorkOutcome.RESOLVED),
        closed_at=ai_session.closed_at or utcnow(),
        session_id=ai_session.id,
        psa_ticket_id=ai_session.psa_ticket_id,
        problem=problem,
        facts=list(facts),
        fixes=[_fix(fix) for fix in tried],
        root_cause=sections.get("root cause") or sections.get("current hypothesis", ""),
        resolution=sections.get("resolution") or sections.get("suggested next steps", ""),
    )


def _fix(fix: SuggestedFix) -> dict[str, Any]:
    return {
        "title": fix.title,
        "status": fix.status,
        "notes": fix.partial_notes or fix.pending_reason or "",
        "template_id": fix.template_id,
    }


def history_document(closed: ClosedTicket) -> WorkDocument:
    """An imported closed ticket: its description and discussion as the problem, internal
    notes as what the engineers found, resolution notes as the resolution."""
    ticket = closed.ticket

    def texts(kind: NoteKind) -> list[str]:
        return [note.text for note in closed.notes if note.kind == kind]

    return WorkDocument(
        doc_key=ticket_doc_key(ticket.id),
        source=WorkSource.HISTORY,
        summary=ticket.summary,
        outcome=WorkOutcome.RESOLVED,
        closed_at=closed.closed_at,
        psa_ticket_id=ticket.id,
        problem=" ".join(texts(NoteKind.DISCUSSION)),
        facts=texts(NoteKind.INTERNAL),
        resolution=" ".join(texts(NoteKind.RESOLUTION)),
    )
