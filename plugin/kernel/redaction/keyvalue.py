"""Secrets named by a key: configuration formats (JSON, YAML, INI, .env, XML, app.config,
connection strings), variables and environment assignments, PowerShell parameters and
`--long-options` whose name says they carry a secret.

A key counts when its last words name a secret (`values.names_a_secret`); a value counts when
it is not a placeholder, a variable or a status word (`values.is_placeholder`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, span
from plugin.kernel.redaction.values import (
    is_placeholder,
    key_words,
    looks_random,
    names_a_secret,
    unquote,
)

_QUOTED = r"\"(?:[^\"\\\r\n]|\\.)*+\"|'(?:[^'\r\n]|'')*+'"
_BARE = r"[^\s,;&'\"<>)}\]]++"
# key [sep] value. The key may be quoted (JSON), a $variable or $env:NAME (PowerShell, PHP,
# bash), and is not part of a longer word, path or option.
_ASSIGNMENT = re.compile(
    rf"(?<![\w$%@./\\\-])(?:\$env:|\$|%)?([\"']?)([A-Za-z_][\w.\-]{{0,80}}+)\1"
    rf"[ \t]*+(:=|=>|=|:)[ \t]*+({_QUOTED}|{_BARE})"
)
_XML_ELEMENT = re.compile(r"<([\w:.\-]{1,80})(?:\s[^<>]{0,200})?>([^<>\r\n]{1,500})</\1>")
_XML_WRAPPED_VALUE = re.compile(
    r"<([\w:.\-]{1,80})(?:\s[^<>]{0,200})?>\s{0,200}<(?:Value|value)>([^<>]{1,500})</(?:Value|value)>"
)
_XML_NAMED_VALUE = re.compile(
    r"(?i)\b(?:key|name)[ \t]*=[ \t]*\"([^\"\r\n]{1,120})\"[^<>]{0,200}?\bvalue[ \t]*=[ \t]*"
    r"(\"[^\"\r\n]*\"|'[^'\r\n]*')"
)
_CALL_WITH_NAME = re.compile(
    r"(?i)\b(?:define|ini_set|SetEnvironmentVariable|putenv|setenv|environ\.setdefault)"
    r"[ \t]*\([ \t]*[\"']([^\"'\r\n]{1,120})[\"'][ \t]*,[ \t]*(" + _QUOTED + r")"
)
_SUBSCRIPT_ASSIGNMENT = re.compile(
    r"\[[ \t]*[\"']([^\"'\r\n]{1,120})[\"'][ \t]*\][ \t]*=[ \t]*(" + _QUOTED + r")"
)
_SPACED_ASSIGNMENT = re.compile(
    r"(?im)^[ \t]*(?:export|set|setx|ENV|ARG)[ \t]+\"?([A-Za-z_][\w.]*+)\"?[ \t]+("
    + _QUOTED
    + r"|[^\s=\"']\S*)[ \t]*$"
)
_PARAMETER = re.compile(
    rf"(?<![\w\-])(--?|/)([A-Za-z][\w\-]{{0,60}}+)(?:[ \t]*+([:=])[ \t]*+|[ \t]++)"
    rf"({_QUOTED}|{_BARE})"
)


def detect(text: str) -> Iterator[Finding | None]:
    yield from _assignments(text)
    for pattern in (_XML_ELEMENT, _XML_WRAPPED_VALUE, _XML_NAMED_VALUE, _CALL_WITH_NAME,
                    _SUBSCRIPT_ASSIGNMENT, _SPACED_ASSIGNMENT):  # fmt: skip
        for match in pattern.finditer(text):
            if names_a_secret(match.group(1)) and not is_placeholder(match.group(2)):
                yield span(text, *match.span(2), "password")
    yield from _parameters(text)


def _assignments(text: str) -> Iterator[Finding | None]:
    # Each search resumes at the value, so `Environment="PROXY_PASS=x"` finds both levels.
    position = 0
    while (match := _ASSIGNMENT.search(text, position)) is not None:
        position = match.start(4) + (1 if match.group(4)[0] in "'\"" else len(match.group(4)))
        key, separator, value = match.group(2), match.group(3), match.group(4)
        if not (names_a_secret(key) or _random_under_a_key(key, value)):
            continue
        if is_placeholder(value) or key.lower() in value.lower():
            continue
        if value[0] not in "'\"" and "=" in value.rstrip("="):
            continue  # another assignment (`v=1; a=rsa`), not this key's value
        start, end = match.span(4)
        if value[0] not in "'\"" and separator in ":=":
            end = _rest_of_line(text, match.start(2), start, end)
        yield span(text, start, end, "password")


def _random_under_a_key(key: str, value: str) -> bool:
    """`$Key = "22c7…"`: a bare `key` names a secret when what it holds is machine-made."""
    words = key_words(key)
    public = len(words) > 1 and words[-2] in ("public", "pub")
    return bool(words) and words[-1] == "key" and not public and looks_random(unquote(value)[0], 20)


def _rest_of_line(text: str, key_start: int, start: int, end: int) -> int:
    """Where a bare value ends: the end of its line when the line is just `key: value`
    (looked at within a bounded window, so a long line stays linear)."""
    line_start = text.rfind("\n", max(0, key_start - 40), key_start) + 1
    if line_start == 0 and key_start > 40 or text[line_start:key_start].strip(" \t-\"'"):
        return end
    line_end = text.find("\n", end, end + 200)
    if line_end < 0:
        line_end = len(text) if len(text) - end <= 200 else -1
    if line_end < 0 or "=" in text[end:line_end] or ":" in text[end:line_end]:
        return end
    rest = text[start:line_end].rstrip()
    comment = re.search(r"[ \t]+[#;]", rest)
    return start + (comment.start() if comment else len(rest))


def _parameters(text: str) -> Iterator[Finding | None]:
    """`-Password 'x'`, `-ClientSecret:x`, `--password=x`, `/password:x`, `/pass:x`."""
    for match in _PARAMETER.finditer(text):
        dash, name, separator, value = match.groups()
        if dash == "/" and separator not in (":", "="):
            continue  # `/p x` is a switch and a word, unless the tool says otherwise
        if not names_a_secret(name) or is_placeholder(value) or value.startswith("-"):
            continue
        yield span(text, *match.span(4), "password")
