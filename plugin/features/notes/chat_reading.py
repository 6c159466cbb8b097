"""What the engineer's chat adds to the escalation package: what they checked or ruled out,
what they saw, and what they tried that no recorded fix covers, in their own words.

Statements only: questions and requests to the assistant ("can you write a script…") and
filler ("please help") say nothing about the ticket. An attempt the engineer reports is
left out when a recorded fix is the same attempt ("tried clearing the queue, no luck" next to
the fix "Restart the Print Spooler and clear its queue"), so the package lists each attempt
once; so is a failure report that names nothing ("that didn't help"), which is about a fix
the package already lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plugin.features.notes.bundle import FixInBundle
from providers.llm.attempts import (
    is_attempt_report,
    is_failure_report,
    names_template,
    statements,
)
from providers.llm.words import terms_of

# Checking something, or finding it fine, rules it out rather than trying a fix.
_CHECKED = re.compile(
    r"\b(?:check(?:ed|s)?|verif(?:y|ied|ies)|confirm(?:ed|s)?|ruled? out|test(?:ed|s)?"
    r"|looked (?:at|into)|inspected|ping(?:ed|s)?|(?:is|are|was|were|looks?|seems?|works?"
    r"|resolves?) (?:fine|ok|okay|normal|healthy|correct|good)|not the (?:cause|issue|problem))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChatReading:
    checked: list[str] = field(default_factory=list)  # checked or ruled out
    seen: list[str] = field(default_factory=list)  # observed
    tried: list[str] = field(default_factory=list)  # attempts no recorded fix covers


def read_chat(messages: list[str], fixes: list[FixInBundle]) -> ChatReading:
    """Sort the engineer's statements, each once, in the order they were written."""
    reading = ChatReading()
    said_before: set[str] = set()
    for message in messages:
        for statement in statements(message):
            key = " ".join(terms_of(statement))
            if not key or key in said_before:
                continue  # filler only, or said already
            said_before.add(key)
            _sort(statement, fixes, reading)
    return reading


def _sort(statement: str, fixes: list[FixInBundle], reading: ChatReading) -> None:
    if _CHECKED.search(statement):
        reading.checked.append(statement)
    elif is_attempt_report(statement):
        recorded = any(names_template(statement, _as_template(fix)) for fix in fixes)
        names_nothing = is_failure_report(statement) and not _names_anything(statement)
        if not recorded and not names_nothing:
            reading.tried.append(statement)
    else:
        reading.seen.append(statement)


def _as_template(fix: FixInBundle) -> dict[str, object]:
    """A recorded fix in the shape attempts are matched against (its title is its name)."""
    return {"name": fix.title, "keywords": [fix.template_name] if fix.template_name else []}


def _names_anything(statement: str) -> bool:
    """Whether a failure report says what failed ("restarting the spooler didn't help"),
    rather than pointing back ("that didn't help", "no luck")."""
    return any(word not in _OUTCOME_WORDS for word in terms_of(statement))


# The words of a bare outcome ("no luck", "made no difference", "same result").
_OUTCOME_WORDS = frozenset(
    {"luck", "joy", "dice", "change", "difference", "avail", "success", "result", "made"}
)
