"""The machine-readable blocks of an assistant reply: ``[SUGGEST_FIX]``, ``[FIX_OUTCOME]``
and ``[CHECKS]`` (diagnostic checks, parsed in ``checks_marker``).

A block is an open tag, optional whitespace, one JSON value, optional whitespace and the
matching close tag. The JSON is *decoded* to find where the block ends, so a close tag inside
a JSON string does not end it. When the JSON is malformed the block ends at the first
matching close tag (searched after the JSON when the JSON itself decoded); with no close tag
at all it runs to the end of the reply. Every block, valid or not, and every stray close tag
is removed from the visible text: the engineer never sees a raw marker.

Two code paths share the block grammar: ``parse_markers`` decides every block with the whole
reply in hand, ``MarkerStreamFilter`` decides each block as soon as no later text can change
the decision. For any split of a reply into deltas::

    "".join(f.feed(d) for d in deltas) + f.finish() == parse_markers(reply).visible_text

exactly, because the filter also normalises whitespace incrementally (see
``normalise_visible``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from plugin.features.chat.checks_marker import CHECKS, checks_from
from plugin.features.fixes.transitions import OUTCOME_STATUSES, FixStatus

SUGGEST_FIX = "SUGGEST_FIX"
FIX_OUTCOME = "FIX_OUTCOME"
TITLE_MAX_LENGTH = 500  # the suggested_fixes.title column

_KINDS = (SUGGEST_FIX, FIX_OUTCOME, CHECKS)
_TAG_RE = re.compile(r"\[(/?)(SUGGEST_FIX|FIX_OUTCOME|CHECKS)\]")
_TAGS = tuple(f"[{slash}{kind}]" for kind in _KINDS for slash in ("", "/"))
_WS_RE = re.compile(r"\s*")
_WS_RUN_RE = re.compile(r"\s+")
# strict=False: models write literal newlines inside long script strings.
_DECODER = json.JSONDecoder(strict=False)


@dataclass(frozen=True)
class SuggestionMarker:
    title: str
    summary: str
    confidence: int | None
    template_id: int | None
    parameters: dict[str, Any]
    script: str | None


@dataclass(frozen=True)
class OutcomeMarker:
    outcome: FixStatus  # one of OUTCOME_STATUSES
    notes: str | None
    pending_reason: str | None


@dataclass(frozen=True)
class ParsedReply:
    visible_text: str
    suggestion: SuggestionMarker | None
    outcome: OutcomeMarker | None
    # Why blocks were dropped, for logging. Never quotes block content (scripts may hold
    # secrets).
    ignored: list[str] = field(default_factory=list)
    checks: list[str] | None = None  # the last valid [CHECKS] block's checks


def parse_markers(text: str) -> ParsedReply:
    """Split a complete assistant reply into its visible text and its last valid blocks."""
    scanner = _BlockScanner()
    raw_visible = scanner.push(text, final=True)
    return scanner.result(normalise_visible(raw_visible))


class MarkerStreamFilter:
    """Turns a stream of reply deltas into the text that is safe to show as it arrives.

    Text that might start a tag ("[SUG") and whitespace that might be trailing or part of a
    run of blank lines are held back until the next delta settles them; block contents are
    never returned. After ``finish()``, ``result`` holds the same ParsedReply that
    ``parse_markers`` gives for the whole reply.
    """

    def __init__(self) -> None:
        self._scanner = _BlockScanner()
        self._text = _IncrementalNormaliser()
        self._shown: list[str] = []
        self._result: ParsedReply | None = None

    def feed(self, delta: str) -> str:
        if self._result is not None:
            raise RuntimeError("MarkerStreamFilter.feed() called after finish()")
        shown = self._text.push(self._scanner.push(delta, final=False), final=False)
        self._shown.append(shown)
        return shown

    def finish(self) -> str:
        if self._result is not None:
            raise RuntimeError("MarkerStreamFilter.finish() called twice")
        shown = self._text.push(self._scanner.push("", final=True), final=True)
        self._shown.append(shown)
        self._result = self._scanner.result("".join(self._shown))
        return shown

    @property
    def result(self) -> ParsedReply:
        if self._result is None:
            raise RuntimeError("MarkerStreamFilter.result is available after finish()")
        return self._result


def normalise_visible(text: str) -> str:
    """Trim, and fold every run of two or more blank lines (typically left where a block was
    removed) into one blank line, keeping the indentation of the line that follows."""
    return _WS_RUN_RE.sub(lambda run: _fold_whitespace_run(run.group()), text.strip())


def _fold_whitespace_run(run: str) -> str:
    if run.count("\n") <= 2:
        return run
    return "\n\n" + run[run.rfind("\n") + 1 :]


class _IncrementalNormaliser:
    """normalise_visible() applied piecewise: output never ends in whitespace, so every
    whitespace run is folded only once it is complete."""

    def __init__(self) -> None:
        self._held_whitespace = ""
        self._started = False

    def push(self, text: str, *, final: bool) -> str:
        text = self._held_whitespace + text
        body = text.rstrip()
        # At the end the held whitespace is trailing, and trimmed.
        self._held_whitespace = "" if final else text[len(body) :]
        if not body:
            return ""
        if not self._started:
            body = body.lstrip()
            self._started = True
        return _WS_RUN_RE.sub(lambda run: _fold_whitespace_run(run.group()), body)


class _BlockScanner:
    """Removes marker blocks from text pushed in order, and collects the last valid ones."""

    def __init__(self) -> None:
        self._buffer = ""
        self._open_kind: str | None = None
        self._found: dict[str, Any] = {}  # kind → its last valid value
        self._ignored: list[str] = []

    def push(self, text: str, *, final: bool) -> str:
        """Returns the raw visible text settled so far. With final=True everything is settled."""
        self._buffer += text
        visible: list[str] = []
        while True:
            if self._open_kind is None:
                tag = _TAG_RE.search(self._buffer)
                if tag is None:
                    keep = len(self._buffer) if final else _partial_tag_start(self._buffer)
                    visible.append(self._buffer[:keep])
                    self._buffer = self._buffer[keep:]
                    return "".join(visible)
                visible.append(self._buffer[: tag.start()])
                self._buffer = self._buffer[tag.end() :]
                is_close, kind = tag.group(1), tag.group(2)
                if is_close:
                    self._ignored.append(f"stray [/{kind}] tag removed")
                else:
                    self._open_kind = kind
            else:
                end = _block_end(self._buffer, f"[/{self._open_kind}]", final=final)
                if end is None:
                    return "".join(visible)
                end_offset, value, problem = end
                self._record(self._open_kind, value, problem)
                self._buffer = self._buffer[end_offset:]
                self._open_kind = None

    def result(self, visible_text: str) -> ParsedReply:
        found = self._found
        return ParsedReply(
            visible_text,
            found.get(SUGGEST_FIX),
            found.get(FIX_OUTCOME),
            list(self._ignored),
            found.get(CHECKS),
        )

    def _record(self, kind: str, value: Any, problem: str | None) -> None:
        parse = {SUGGEST_FIX: _suggestion_from, FIX_OUTCOME: _outcome_from, CHECKS: checks_from}
        parsed = problem or parse[kind](value)
        if isinstance(parsed, str):
            self._ignored.append(f"{kind} block ignored: {parsed}")
            return
        if kind in self._found:
            self._ignored.append(f"earlier {kind} block replaced by a later one")
        self._found[kind] = parsed


def _partial_tag_start(buffer: str) -> int:
    """Where a trailing, possibly unfinished tag starts ("...[SUG"), else len(buffer).

    A tag contains no "[" after its first character, so only the last "[" can start one.
    """
    start = buffer.rfind("[")
    if start >= 0 and any(tag.startswith(buffer[start:]) for tag in _TAGS):
        return start
    return len(buffer)


def _block_end(body: str, close: str, *, final: bool) -> tuple[int, Any, str | None] | None:
    """Where the block whose contents start at body[0] ends: (offset after it, decoded JSON,
    problem or None). None when more text could still change the answer (never when final).

    Every non-final decision needs a close tag in hand, and is one that no later text can
    change: a JSON value that decoded is self-delimited; a decode failure counts only once
    no continuation could make it valid (_could_become_json).
    """
    if not final and close not in body:
        return None
    start = _WS_RE.match(body).end()
    try:
        value, json_end = _DECODER.raw_decode(body, start)
    except (ValueError, RecursionError):  # JSONDecodeError, int digit limit, deep nesting
        if not final and _could_become_json(body, start):
            return None
        return _end_at_close(body, close, 0, "malformed JSON", final=final)
    after = _WS_RE.match(body, json_end).end()
    if body.startswith(close, after):
        return after + len(close), value, None
    if not final and close.startswith(body[after:]):
        return None
    return _end_at_close(body, close, json_end, "text after the JSON", final=final)


def _end_at_close(
    body: str, close: str, search_from: int, problem: str, *, final: bool
) -> tuple[int, Any, str | None] | None:
    found = body.find(close, search_from)
    if found >= 0:
        return found + len(close), None, problem
    return (len(body), None, "no close tag") if final else None


_VALUE, _VALUE_OR_CLOSE, _KEY, _KEY_OR_CLOSE, _COLON, _COMMA_OR_CLOSE = range(6)
_CLOSERS = {"{": "}", "[": "]"}
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BARE_WORD_RE = re.compile(r"[A-Za-z0-9+\-.]+")
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
_NUMBER_CHARS = frozenset("0123456789+-.eE")


def _could_become_json(text: str, pos: int) -> bool:
    """False only when no continuation of text[pos:] decodes as JSON.

    Deliberately lenient (loose numbers and escapes): answering True wrongly only makes the
    stream wait for more text; answering False wrongly would end a block too early.
    """
    stack: list[str] = []
    expect = _VALUE
    while True:
        pos = _WS_RE.match(text, pos).end()
        if pos == len(text):
            return True
        char = text[pos]
        if expect == _COMMA_OR_CLOSE:
            if not stack:
                return True  # a whole value: the decoder's call, not ours
            if char == ",":
                expect = _KEY if stack[-1] == "{" else _VALUE
            elif char == _CLOSERS[stack[-1]]:
                stack.pop()
            else:
                return False
            pos += 1
        elif expect == _COLON:
            if char != ":":
                return False
            expect, pos = _VALUE, pos + 1
        elif expect in (_KEY, _KEY_OR_CLOSE):
            if char == "}" and expect == _KEY_OR_CLOSE:
                stack.pop()
                expect, pos = _COMMA_OR_CLOSE, pos + 1
            elif char == '"':
                string = _STRING_RE.match(text, pos)
                if string is None:
                    return True  # unterminated string
                expect, pos = _COLON, string.end()
            else:
                return False
        elif char == "]" and expect == _VALUE_OR_CLOSE:
            stack.pop()
            expect, pos = _COMMA_OR_CLOSE, pos + 1
        elif char in _CLOSERS:
            stack.append(char)
            expect, pos = (_KEY_OR_CLOSE if char == "{" else _VALUE_OR_CLOSE), pos + 1
        elif char == '"':
            string = _STRING_RE.match(text, pos)
            if string is None:
                return True
            expect, pos = _COMMA_OR_CLOSE, string.end()
        else:
            word = _BARE_WORD_RE.match(text, pos)
            if word is None:
                return False
            if word.end() == len(text):
                return _looks_like_number(word.group()) or any(
                    literal.startswith(word.group()) for literal in _LITERALS
                )
            if not (_looks_like_number(word.group()) or word.group() in _LITERALS):
                return False
            expect, pos = _COMMA_OR_CLOSE, word.end()


def _looks_like_number(word: str) -> bool:
    return word[0] in "-0123456789" and all(char in _NUMBER_CHARS for char in word)


def _suggestion_from(value: Any) -> SuggestionMarker | str:
    """The suggestion, or why the block is ignored."""
    if not isinstance(value, dict):
        return "not a JSON object"
    title = value.get("title")
    if not isinstance(title, str) or not title.strip():
        return "missing title"
    summary = value.get("summary")
    parameters = value.get("parameters")
    return SuggestionMarker(
        title=title.strip()[:TITLE_MAX_LENGTH],
        summary=summary.strip() if isinstance(summary, str) else "",
        confidence=_confidence(value.get("confidence")),
        template_id=_template_id(value.get("template_id")),
        parameters=parameters if isinstance(parameters, dict) else {},
        script=_script(value.get("script")),
    )


def _outcome_from(value: Any) -> OutcomeMarker | str:
    """The outcome, or why the block is ignored."""
    if not isinstance(value, dict):
        return "not a JSON object"
    outcome = value.get("outcome")
    outcome = outcome.strip().lower() if isinstance(outcome, str) else None
    if outcome not in OUTCOME_STATUSES:
        return "unknown outcome value"
    return OutcomeMarker(
        outcome=FixStatus(outcome),
        notes=_optional_text(value.get("notes")),
        pending_reason=_optional_text(value.get("pending_reason")),
    )


_NUMERIC_TEXT_RE = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*%?\s*")
_INTEGER_TEXT_RE = re.compile(r"\s*(\d+)\s*")


def _confidence(raw: Any) -> int | None:
    """0–100, rounded half up; None when not a number (the block stays valid)."""
    if isinstance(raw, str):
        numeric = _NUMERIC_TEXT_RE.fullmatch(raw)
        raw = float(numeric.group(1)) if numeric else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    return math.floor(min(100, max(0, raw)) + 0.5)


def _template_id(raw: Any) -> int | None:
    if isinstance(raw, str):
        integer = _INTEGER_TEXT_RE.fullmatch(raw)
        raw = int(integer.group(1)) if integer else None
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        return None
    return raw


def _script(raw: Any) -> str | None:
    # Kept verbatim: leading indentation can matter in a script.
    return raw if isinstance(raw, str) and raw.strip() else None


def _optional_text(raw: Any) -> str | None:
    return raw.strip() if isinstance(raw, str) and raw.strip() else None
