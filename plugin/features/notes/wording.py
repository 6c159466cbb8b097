"""The phrasing both offline documents share: free text made safe to sit in a sentence, fix
states in words, parameters, code blocks.

Every free-text field is flattened to one line, so nothing from the session can add or break
a section.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from plugin.features.notes.bundle import FixInBundle, NoteBundle
from plugin.kernel.states import FixStatus

APPLIED_SUCCESS = FixStatus.APPLIED_SUCCESS
APPLIED_FAILED = FixStatus.APPLIED_FAILED
APPLIED_PARTIAL = FixStatus.APPLIED_PARTIAL
APPLIED_PENDING = FixStatus.APPLIED_PENDING
SUGGESTED = FixStatus.SUGGESTED
DISMISSED = FixStatus.DISMISSED
# A suggested fix that has been applied but has no reported outcome yet.
VERIFYING = "verifying"

# Leading words lowered when a free-text reason continues a sentence ("waiting on the user…").
_COMMON_LEADING_WORDS = {
    "a", "an", "the", "our", "their", "his", "her", "its", "this", "that", "these", "those",
    "user", "users", "customer", "client", "vendor", "confirmation", "feedback",
}  # fmt: skip


def document(headings: list[str], bodies: list[str | None]) -> str:
    """The sections in order; a section whose body is None is left out."""
    sections = [
        f"## {heading}\n\n{body}"
        for heading, body in zip(headings, bodies, strict=True)
        if body is not None
    ]
    return "\n\n".join(sections) + "\n"


def problem_statement(bundle: NoteBundle, when_unknown: str) -> str:
    described = inline(bundle.ticket_summary) or inline(bundle.session_title)
    if not described:
        return when_unknown
    # A leading "#", "`" or "~" would turn the line into a heading or a code fence.
    return sentence(re.sub(r"^([#`~])", r"\\\1", described))


def fact_list(facts: list[str]) -> str | None:
    items = [inline(fact) for fact in facts if inline(fact)]
    return "\n".join(f"- {sentence(item)}" for item in items) if items else None


def state(fix: FixInBundle) -> str:
    if fix.status == SUGGESTED and fix.applied:
        return VERIFYING
    return fix.status


def was_applied(fix: FixInBundle) -> bool:
    """Whether the fix was actually tried (rather than only suggested or turned down)."""
    return fix.applied or fix.status in (
        APPLIED_SUCCESS,
        APPLIED_FAILED,
        APPLIED_PARTIAL,
        APPLIED_PENDING,
    )


def notes_of(fix: FixInBundle) -> str:
    return sentence(fix.partial_notes) or "no notes were recorded."


def describe_parameters(parameters: Mapping[str, Any]) -> str:
    return "; ".join(f"{inline(str(name))}: {_value(value)}" for name, value in parameters.items())


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str):
        return inline(value) or '""'
    return inline(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def inline(text: str | None) -> str:
    return " ".join((text or "").split())


def clause(text: str | None) -> str:
    """Free text made to sit inside a sentence: one line, no closing full stop."""
    return inline(text).rstrip(".;") or "confirmation"


def continuation(text: str | None) -> str:
    """Like `clause`, also lowering a capitalised common first word ("The user…")."""
    said = clause(text)
    first, _, rest = said.partition(" ")
    if first.istitle() and first.lower() in _COMMON_LEADING_WORDS:
        return f"{first.lower()} {rest}".rstrip()
    return said


def sentence(text: str | None) -> str:
    said = inline(text)
    if said and said[-1] not in ".!?…:)\"'":
        said += "."
    return said


def quoted(text: str, limit: int = 240) -> str:
    """The engineer's own words, on one line, in quotes (clipped when long)."""
    said = inline(text).replace('"', "'")
    if len(said) > limit:
        said = said[: limit - 1].rstrip() + "…"
    return f'"{said}"'


def fenced(code: str) -> str:
    # The fence must be longer than any backtick run in the script, or the script ends it.
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{code.strip(chr(10))}\n{fence}"
