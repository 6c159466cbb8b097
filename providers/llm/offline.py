"""The offline LLMProvider: deterministic, no network.

Used when no Anthropic API key is configured and as the fallback when the API fails. For
chat it proposes the library template whose keywords, name and description best match what
the user wrote, as a `[SUGGEST_FIX]` marker the service understands. Other kinds (notes,
template extraction) are composed by the service itself from the session's data.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from providers.llm.attempts import symptom_text, tried_templates
from providers.llm.base import (
    CallObserver,
    CallRecord,
    LLMBadResponse,
    LLMRequest,
    LLMResult,
    Usage,
)
from providers.llm.observing import report_call
from providers.llm.strength import CONFIDENCE_CAP as CONFIDENCE_CAP
from providers.llm.strength import confidence_for, match_strength
from providers.llm.words import match_words, terms_of, word_matches, words_of

OFFLINE_NOTICE = (
    "Fixpilot is running offline (no Anthropic API key is configured, or the AI service is "
    "unavailable right now), so this reply comes from matching your words against the script "
    "library, not from the AI."
)

# Points per matched word or phrase: keywords are curated for matching, names are short
# and specific, descriptions are long and wordy.
KEYWORD_WEIGHT = 3
NAME_WEIGHT = 2
DESCRIPTION_WEIGHT = 1
# A single description word is too weak a signal to propose a fix on.
MIN_SCORE = 2
# Templates that usually work get a nudge, once they have been tried a few times.
TRACK_RECORD_BONUS = 1
TRACK_RECORD_MIN_TRIES = 3
TRACK_RECORD_MIN_SUCCESS = 0.7
# How a template went on the most similar past tickets (`similar_record`: worked / failed,
# and where): each net success there is worth points, up to a cap; a template that failed
# there more often than it worked is ranked after every other match.
SIMILAR_WORKED_POINTS = 3  # as much as a matched keyword
SIMILAR_MAX_POINTS = 6
MAX_WORDS_SHOWN = 6

# Only explicit "host: X" / "hostname is X" forms: "the computer is slow" names nothing.
_VALUE = r"([A-Za-z0-9][\w.\-\\@]*[A-Za-z0-9])"
_HOST_VALUE = re.compile(
    r"\b(?:(?:host|computer|machine|device|pc|server)(?:\s*name)?\s*[:=]"
    r"|(?:hostname|computer\s+name|machine\s+name)\s+is)\s*" + _VALUE,
    re.IGNORECASE,
)
_USER_VALUE = re.compile(
    r"\b(?:(?:user(?:\s*name)?|account|login)\s*[:=]|(?:username|user\s+name|login)\s+is)\s*"
    + _VALUE,
    re.IGNORECASE,
)
_HOST_PARAM = re.compile(r"host|computer|machine|device|server|^pc$|pc_?name", re.IGNORECASE)
_USER_PARAM = re.compile(r"user|account|login|sam", re.IGNORECASE)


@dataclass(frozen=True)
class TemplateMatch:
    template: Mapping[str, Any]
    score: int
    matched_words: tuple[str, ...]  # the user's words that matched, in first-match order


def score_template(template: Mapping[str, Any], said: Sequence[str]) -> TemplateMatch:
    # Filler ("help", "issue", "not working") never counts, on either side.
    said = match_words(said)
    score = 0
    matched: dict[str, None] = {}  # ordered set

    def match_all(phrase_words: list[str]) -> list[str] | None:
        hits = [word_matches(w, said) for w in phrase_words]
        return None if not phrase_words or None in hits else [h for h in hits if h]

    for keyword in template.get("keywords") or []:
        hits = match_all(terms_of(str(keyword)))
        if hits:
            score += KEYWORD_WEIGHT
            matched.update(dict.fromkeys(hits))
    for weight, field_name in ((NAME_WEIGHT, "name"), (DESCRIPTION_WEIGHT, "description")):
        for word in dict.fromkeys(terms_of(str(template.get(field_name) or ""))):
            hit = word_matches(word, said)
            if hit:
                score += weight
                matched[hit] = None
    if score and has_good_track_record(template.get("track_record")):
        score += TRACK_RECORD_BONUS
    if score:
        score += similar_points(template.get("similar_record"))
    return TemplateMatch(template=template, score=score, matched_words=tuple(matched))


def has_good_track_record(track_record: Any) -> bool:
    if not isinstance(track_record, Mapping):
        return False
    worked = int(track_record.get("worked") or 0)
    tries = worked + int(track_record.get("failed") or 0)
    return tries >= TRACK_RECORD_MIN_TRIES and worked / tries >= TRACK_RECORD_MIN_SUCCESS


def _similar_counts(similar_record: Any) -> tuple[int, int]:
    if not isinstance(similar_record, Mapping):
        return 0, 0
    return int(similar_record.get("worked") or 0), int(similar_record.get("failed") or 0)


def similar_points(similar_record: Any) -> int:
    worked, failed = _similar_counts(similar_record)
    return min(SIMILAR_MAX_POINTS, SIMILAR_WORKED_POINTS * max(0, worked - failed))


def failed_on_similar(template: Mapping[str, Any]) -> bool:
    worked, failed = _similar_counts(template.get("similar_record"))
    return failed > worked


def rank_templates(
    templates: Iterable[Mapping[str, Any]], said: Sequence[str]
) -> list[TemplateMatch]:
    """Templates that match well enough, best first: by text match plus how they went on
    similar tickets, those that failed there last; ties go to the lower id (stable)."""
    matches = [score_template(t, said) for t in templates]
    good = [m for m in matches if m.score >= MIN_SCORE]
    return sorted(
        good, key=lambda m: (failed_on_similar(m.template), -m.score, _sort_id(m.template))
    )


def similar_evidence(template: Mapping[str, Any]) -> str:
    """ "It worked on #4711 and #4820 (similar tickets)." / "It did not work on #5120 (a
    similar ticket)." — or ''."""
    record = template.get("similar_record")
    if not isinstance(record, Mapping):
        return ""
    sentences = []
    for key, verb in (("worked_on", "worked"), ("failed_on", "did not work")):
        refs = [str(r) for r in record.get(key) or []]
        if refs:
            listed = refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + f" and {refs[-1]}"
            what = "similar tickets" if len(refs) > 1 else "a similar ticket"
            sentences.append(f"It {verb} on {listed} ({what}).")
    return " ".join(sentences)


def _sort_id(template: Mapping[str, Any]) -> tuple[int, str]:
    template_id = template.get("id")
    return (template_id, "") if isinstance(template_id, int) else (0, str(template_id))


def drafted_parameters(template: Mapping[str, Any], conversation: str) -> dict[str, Any]:
    """Defaults, plus a hostname / username when the user wrote one out explicitly
    ("host: PC-042", "username is jdoe"). Sensitive parameters are never filled."""
    host = _HOST_VALUE.search(conversation)
    user = _USER_VALUE.search(conversation)
    parameters: dict[str, Any] = {}
    for param in template.get("parameters_schema") or []:
        name = param.get("name")
        if not name or param.get("sensitive"):
            continue
        if host and _HOST_PARAM.search(name):
            parameters[name] = host.group(1)
        elif user and _USER_PARAM.search(name):
            parameters[name] = user.group(1)
        elif param.get("default") is not None:
            parameters[name] = param["default"]
    return parameters


# The checks the offline assistant proposes when nothing matched: the evidence that tells
# most causes apart (the service's [CHECKS] marker; each result becomes a fact).
FIRST_CHECKS = (
    "What is the exact error message the user sees?",
    "Are other users or machines affected?",
    "When did it start, and what changed just before?",
)


def compose_chat_reply(request: LLMRequest) -> str:
    # What the engineer said, when the caller says so: the user turns may also carry
    # context (template descriptions, facts) whose words would match themselves.
    user_texts = list(request.context.get("engineer_messages") or []) or [
        m["content"] for m in request.messages if m.get("role") == "user"
    ]
    templates = request.context.get("templates") or []
    # What failed, was turned down or was already tried is never proposed again.
    ruled_out = ruled_out_templates(request, templates)
    candidates = [t for t in templates if t.get("id") not in ruled_out]
    # The latest message is what the engineer asks about now; the whole conversation is
    # the fallback when it alone matches nothing (e.g. "that didn't work").
    # Only what describes the problem counts, not "I already checked DNS".
    symptoms = [symptom_text(text) for text in user_texts]
    said = words_of(symptoms[-1]) if symptoms else []
    ranked = rank_templates(candidates, said)
    if not ranked:
        said = list(dict.fromkeys(w for text in symptoms for w in words_of(text)))
        ranked = rank_templates(candidates, said)
    not_again = _not_again(templates, ruled_out, said)
    if not ranked:
        return "\n\n".join(
            [
                OFFLINE_NOTICE,
                *not_again,
                "No library template matched this conversation. Could you add more detail: "
                "the exact error text, the affected user and host, and what changed recently?",
                f"[CHECKS]{json.dumps(list(FIRST_CHECKS))}[/CHECKS]",
            ]
        )
    best, others = ranked[0], ranked[1:3]
    name = str(best.template.get("name") or f"template {best.template.get('id')}")
    # The first matches are the strongest (keywords are scored first); a long tail of
    # description words reads as noise.
    shown = best.matched_words[:MAX_WORDS_SHOWN]
    matched = ", ".join(f'"{w}"' for w in shown)
    if len(best.matched_words) > len(shown):
        matched += ", …"
    evidence = similar_evidence(best.template)
    suggestion = {
        "title": name,
        "summary": what_it_does(best.template) + (f" {evidence}" if evidence else ""),
        "confidence": confidence_for(match_strength(best.template, said)),
        "template_id": best.template.get("id"),
        "parameters": drafted_parameters(best.template, "\n".join(user_texts)),
    }
    parts = [
        OFFLINE_NOTICE,
        *not_again,
        f"The closest library template is **{name}**, matching {matched}. Check that it fits "
        "before running it." + (f" {evidence}" if evidence else ""),
    ]
    if others:
        other_names = ", ".join(f"**{m.template.get('name')}**" for m in others)
        parts.append(f"Other possible matches: {other_names}.")
    parts.append(f"[SUGGEST_FIX]{json.dumps(suggestion, sort_keys=True)}[/SUGGEST_FIX]")
    return "\n\n".join(parts)


def what_it_does(template: Mapping[str, Any]) -> str:
    """The suggestion's summary: what the script does, in the library's words (how it was
    matched is for the chat, never for a note)."""
    description = " ".join(str(template.get("description") or "").split())
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    return first or f"Runs the library script {template.get('name')}."


# Why a session's fix rules its template out (context "session_fixes": template_id, status,
# active — the session's fixes, oldest first).
_NOT_AGAIN_BECAUSE = {
    "applied_failed": "it didn't work earlier in this session",
    "dismissed": "it was turned down earlier in this session",
}
_ALREADY_TRIED = "you said you already tried it"
_CURRENT_FIX = "it is already the current fix: record how it went first"


def ruled_out_templates(request: LLMRequest, templates: Sequence[Mapping[str, Any]]) -> dict:
    """template id → why it must not be suggested again in this session: it failed or was
    turned down, else the engineer says they tried it, else it is the current fix."""
    fixes = [f for f in request.context.get("session_fixes") or [] if f.get("template_id")]
    reasons: dict[Any, str] = {}
    for fix in fixes:
        if fix.get("status") in _NOT_AGAIN_BECAUSE:
            reasons.setdefault(fix["template_id"], _NOT_AGAIN_BECAUSE[fix["status"]])
    for template in tried_templates(_turns(request), templates):
        reasons.setdefault(template.get("id"), _ALREADY_TRIED)
    for fix in fixes:
        if fix.get("active"):
            reasons.setdefault(fix["template_id"], _CURRENT_FIX)
    return reasons


def _turns(request: LLMRequest) -> list[tuple[str, str]]:
    """(the assistant's reply before, the engineer's message), oldest first. The latest
    engineer text is taken from the context when given: the service puts the session's
    context in front of it in the messages."""
    turns, before = [], ""
    for message in request.messages:
        if message.get("role") == "assistant":
            before = message["content"]
        else:
            turns.append((before, message["content"]))
    engineer = request.context.get("engineer_messages") or []
    if turns and engineer:
        turns[-1] = (turns[-1][0], engineer[-1])
    return turns


def _not_again(templates: Sequence[Mapping[str, Any]], ruled_out: dict, said: Sequence[str]):
    """A sentence naming the templates that would have matched but are ruled out."""
    skipped = [
        f"**{m.template.get('name')}** ({ruled_out[m.template.get('id')]})"
        for m in rank_templates([t for t in templates if t.get("id") in ruled_out], said)
    ]
    return [f"Not suggesting again: {'; '.join(skipped)}."] if skipped else []


class OfflineProvider:
    name = "offline"
    model = "offline"

    def __init__(self, observer: CallObserver | None = None) -> None:
        self.observer = observer

    async def generate(self, request: LLMRequest) -> LLMResult:
        started = time.monotonic()
        try:
            text = self._compose(request)
        except LLMBadResponse as exc:
            await self._report(request, started, exc)
            raise
        await self._report(request, started, None)
        return LLMResult(
            text=text,
            usage=Usage(),
            model=self.model,
            generator=self.name,
            latency_ms=_elapsed_ms(started),
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | LLMResult]:
        result = await self.generate(request)
        # Paragraph by paragraph, the way a streamed reply arrives.
        paragraphs = result.text.split("\n\n")
        for index, paragraph in enumerate(paragraphs):
            yield paragraph if index == len(paragraphs) - 1 else paragraph + "\n\n"
        yield result

    async def aclose(self) -> None:
        return None

    def _compose(self, request: LLMRequest) -> str:
        if request.kind != "chat":
            raise LLMBadResponse(f"offline provider has no composer for kind {request.kind}")
        return compose_chat_reply(request)

    async def _report(
        self, request: LLMRequest, started: float, error: BaseException | None
    ) -> None:
        await report_call(
            self.observer,
            CallRecord(
                kind=request.kind,
                model=self.model,
                generator=self.name,
                usage=Usage(),
                latency_ms=_elapsed_ms(started),
                outcome="ok" if error is None else "error",
                error=None if error is None else type(error).__name__,
            ),
        )


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
