"""What a note is written from: a session's data, already redacted by the caller.

The resolution note, the escalation package, their prompts and the offline composer all read
this one structure, so the LLM and the offline composer see exactly the same facts. The
customer's note is written from `customer_view()`: the same facts without what is internal
(the chat, confidence, matching text).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plugin.features.notes.customer_grade import customer_line
from plugin.kernel.states import FixStatus


@dataclass(frozen=True)
class FixInBundle:
    """One suggested fix. `script` and `parameters` are already redacted."""

    title: str
    summary: str
    status: str
    confidence: int | None = None
    active: bool = False
    superseded: bool = False
    partial_notes: str | None = None
    pending_reason: str | None = None
    failure_reason: str | None = None  # what happened when it didn't work (the engineer's)
    applied: bool = False
    verified: bool = False
    script: str | None = None
    template_name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationInBundle:
    """One script generated in the session. `parameters` and `rendered_script` are redacted."""

    template_name: str | None
    parameters: dict[str, Any]
    rendered_script: str


@dataclass(frozen=True)
class NoteBundle:
    session_title: str
    ticket_id: int | None = None
    ticket_summary: str | None = None
    company_name: str | None = None
    facts: list[str] = field(default_factory=list)
    fixes: list[FixInBundle] = field(default_factory=list)  # oldest first
    generations: list[GenerationInBundle] = field(default_factory=list)
    # The engineer's own chat messages, oldest first (what they saw, checked, tried).
    chat: list[str] = field(default_factory=list)
    # The assistant's question that is still unanswered (the session's last word is its).
    open_question: str | None = None

    def customer_view(self) -> NoteBundle:
        """The bundle as a customer note may use it: no chat, no confidence, and no internal
        matching text in what the fixes say about themselves."""
        fixes = [
            replace(
                fix,
                title=customer_line(fix.title) or fix.title,
                summary=customer_line(fix.summary) or "",
                confidence=None,
                partial_notes=customer_line(fix.partial_notes or ""),
                pending_reason=customer_line(fix.pending_reason or ""),
            )
            for fix in self.fixes
        ]
        return replace(self, fixes=fixes, chat=[], open_question=None)

    def customer_words(self) -> list[str]:
        """What the customer's note may repeat as it stands: the ticket and the facts."""
        return [self.session_title, self.ticket_summary or "", *self.facts]

    @property
    def active_fix(self) -> FixInBundle | None:
        """The fix neither superseded nor dismissed (at most one exists; the newest wins)."""
        for fix in reversed(self.fixes):
            if not fix.superseded and fix.status != FixStatus.DISMISSED:
                return fix
        return None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (for the prompt, and for `LLMRequest.context`)."""
        return asdict(self)

    def to_prompt_json(self) -> str:
        # Sorted keys and fixed separators: the same bundle always gives the same text.
        return json.dumps(
            self.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
        )
