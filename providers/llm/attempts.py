"""What the engineer reports having tried, read from their own words, and which library
templates that rules out for the offline assistant.

A sentence reports an attempt when it says so ("already", "tried", "no luck", "didn't help")
or puts one of a template's actions in the past tense ("restarted the spooler"); a question
or a request ("should I restart the spooler?", "can you clear the queue") never does.

A reported attempt names a template when it carries one of the template's actions (the first
word of each part of its name: "Restart the Print Spooler and clear its queue" → restart,
clear) together with one more of the template's words, or, after an explicit "tried", a whole
keyword phrase of two words or more, or two words of the name. A failure report that names
nothing ("that didn't help") is about the last template the assistant named before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from providers.llm.words import hit_quality, terms_of

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_BREAK = re.compile(r"\s*[,;:]\s+|\s+(?:but|so)\s+")
_NEGATIVE_OUTCOME = (
    r"no luck|no joy|no dice|no change|no difference|to no avail|without (?:success|luck)"
    r"|(?:did|does|do|has|have)(?:nt| not) (?:help|work|fix|change|solve|do anything)"
    r"|same (?:result|error|problem|issue|thing)"
)
FAILURE_REPORT = re.compile(rf"\b(?:{_NEGATIVE_OUTCOME})\b")
ATTEMPT_REPORT = re.compile(rf"\b(?:already|tried|trying|attempted|{_NEGATIVE_OUTCOME})\b")
_EXPLICIT_TRY = re.compile(r"\b(?:tried|trying|attempted)\b")
# How a request to the assistant starts ("could you…", "should I…", "please…"); a question
# mark ends the other questions.
_ASKING = re.compile(
    r"^(?:(?:can|could|would|will) (?:you|u|we|someone)|(?:should|shall|do|must) (?:i|we)"
    r"|how (?:do|can|should|to)|please|pls|plz|kindly|maybe|perhaps|lets|let us|try|is there"
    r"|are there|any (?:idea|ideas|suggestion|suggestions))\b"
)
_NAME_PARTS = re.compile(r"\s*(?:\band\b|,|;|&|\+)\s*", re.IGNORECASE)


def statements(text: str) -> list[str]:
    """The sentences of `text` with their questions and requests left out, in order (what
    the engineer states, rather than asks)."""
    found = []
    for sentence in _SENTENCE_END.split(text.strip()):
        clauses = [c for c in _CLAUSE_BREAK.split(sentence.strip()) if c.strip()]
        if sentence.rstrip().endswith("?") and clauses:
            clauses = clauses[:-1]  # the question itself
        kept = [c for c in clauses if not _ASKING.match(_plain(c))]
        if kept:
            found.append(", ".join(c.strip() for c in kept))
    return found


def symptom_text(text: str) -> str:
    """`text` without its clauses that report an attempt or a check ("I already checked DNS",
    "tried clearing the queue, no luck"): what is left describes the problem, and only that
    should pull a template in."""
    kept = []
    for sentence in _SENTENCE_END.split(text.strip()):
        clauses = [c for c in _CLAUSE_BREAK.split(sentence.strip()) if c.strip()]
        kept.extend(c.strip() for c in clauses if not is_attempt_report(c))
    return ". ".join(kept)


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("'", "").replace("\u2019", "").split())


def is_attempt_report(statement: str) -> bool:
    return ATTEMPT_REPORT.search(_plain(statement)) is not None


def is_failure_report(statement: str) -> bool:
    return FAILURE_REPORT.search(_plain(statement)) is not None


def template_actions(template: Mapping[str, Any]) -> list[str]:
    """The first content word of each part of the template's name: its actions."""
    parts = _NAME_PARTS.split(str(template.get("name") or ""))
    return [words[0] for part in parts if (words := terms_of(part))]


def names_template(statement: str, template: Mapping[str, Any]) -> bool:
    """Whether `statement` reports trying `template` (see the module's docstring)."""
    said = terms_of(statement)
    if not said:
        return False
    actions = template_actions(template)
    name = set(terms_of(str(template.get("name") or "")))
    keywords = [phrase for k in template.get("keywords") or [] if (phrase := terms_of(str(k)))]
    other_terms = (name | {w for phrase in keywords for w in phrase}) - set(actions)
    acted = {word: a for word in said for a in actions if hit_quality(a, (word,))}
    if acted and (is_attempt_report(statement) or any(map(_is_past, acted.items()))):
        rest = [word for word in said if word not in acted]
        if any(hit_quality(term, rest) for term in other_terms):
            return True
    if _EXPLICIT_TRY.search(_plain(statement)) is None:
        return False
    whole_phrase = any(len(p) > 1 and all(hit_quality(w, said) for w in p) for p in keywords)
    return whole_phrase or sum(1 for word in name if hit_quality(word, said)) >= 2


def _is_past(form_and_action: tuple[str, str]) -> bool:
    """ "restarted" for restart, "rebuilt" for rebuild; "reset" for reset is not told apart
    from the imperative, so it needs a cue."""
    form, action = form_and_action
    return form != action and form.endswith(("ed", "t"))


def named_first(text: str, templates: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The template whose name appears first in `text` (an assistant's reply), or None."""
    lowered = text.lower()
    positions = [
        (position, index, template)
        for index, template in enumerate(templates)
        if (name := str(template.get("name") or "").strip().lower())
        and (position := lowered.find(name)) >= 0
    ]
    return min(positions, key=lambda found: found[:2])[2] if positions else None


def tried_templates(
    turns: Sequence[tuple[str, str]], templates: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The templates the engineer reports having tried, first report first.

    `turns` are (what the assistant said before, what the engineer then wrote), oldest
    first; the assistant's text resolves a failure report that names no template."""
    tried: list[int] = []  # indexes into `templates`, first report first
    for before, engineer_text in turns:
        for statement in statements(engineer_text):
            named = [i for i, t in enumerate(templates) if names_template(statement, t)]
            if not named and is_failure_report(statement):
                earlier = named_first(before, templates)
                named = [i for i, t in enumerate(templates) if t is earlier]
            tried.extend(i for i in named if i not in tried)
    return [templates[i] for i in tried]
