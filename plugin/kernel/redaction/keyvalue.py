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
from plugin.kernel.redaction.vocabulary import COMMON_WORDS

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
# `password R0ad-W4rrior`, `wpa-passphrase 7226…;`: a configuration line of a keyword and its
# value (Junos, EdgeOS, Aruba, nginx-like formats).
_KEYWORD_LINE = re.compile(
    r"(?m)^[ \t]*([A-Za-z][\w\-]{1,40})[ \t]+(\"[^\"\n]*\"|[^\s\"';]+);?[ \t]*$"
)
_PASSWORD_COMMANDS = frozenset(
    {"passwd", "smbpasswd", "kpasswd", "chpasswd", "htpasswd", "yppasswd", "gpasswd", "pass"}
)
# ARM/Bicep parameter files: `"adminPassword": { "value": "…" }`.
_WRAPPED_JSON_VALUE = re.compile(
    r"[\"']([\w\-.]{1,80})[\"'][ \t]*:[ \t]*\{[ \t\r\n]*[\"']value[\"'][ \t]*:[ \t]*"
    r"(\"(?:[^\"\\\r\n]|\\.)*\")"
)
# `<pre-shared-key>\n  <key>…</key>`: an element named only `key` or `value` inside one
# that names the secret.
_NESTED_XML_VALUE = re.compile(
    r"<([\w:.\-]{1,80})>[ \t\r\n]{0,200}<(?:key|value|Key|Value)>([^<>\r\n]{1,500})"
    r"</(?:key|value|Key|Value)>"
)
_PARAMETER = re.compile(
    rf"(?<![\w\-])(--?|/)([A-Za-z][\w\-]{{0,60}}+)(?:[ \t]*+([:=])[ \t]*+|[ \t]++)"
    rf"({_QUOTED}|{_BARE})"
)


def detect(text: str) -> Iterator[Finding | None]:
    yield from _assignments(text)
    for pattern in (_XML_ELEMENT, _XML_WRAPPED_VALUE, _XML_NAMED_VALUE, _CALL_WITH_NAME,
                    _SUBSCRIPT_ASSIGNMENT, _SPACED_ASSIGNMENT, _WRAPPED_JSON_VALUE,
                    _NESTED_XML_VALUE):  # fmt: skip
        for match in pattern.finditer(text):
            if names_a_secret(match.group(1)) and not is_placeholder(match.group(2)):
                yield span(text, *match.span(2), "password")
    yield from _parameters(text)
    for match in _KEYWORD_LINE.finditer(text):
        value = match.group(2)
        if match.group(1).lower() in _PASSWORD_COMMANDS:
            continue  # `passwd jdoe2` names the user whose password changes
        if (
            names_a_secret(match.group(1))
            and not is_placeholder(value)
            and (value[0] == '"' or value.lower() not in COMMON_WORDS)
        ):
            yield span(text, *match.span(2), "password")


def _assignments(text: str) -> Iterator[Finding | None]:
    # Each search resumes at the value, so `Environment="PROXY_PASS=x"` finds both levels.
    position = 0
    while (match := _ASSIGNMENT.search(text, position)) is not None:
        position = match.start(4) + (1 if match.group(4)[0] in "'\"" else len(match.group(4)))
        key, separator, value = match.group(2), match.group(3), match.group(4)
        label = _label_before(text, match.start(0)) + " " + key
        if not (names_a_secret(label) or _random_under_a_key(label, value)):
            continue
        if key_words(key)[-1:] in (["signature"], ["sig"]) and not looks_random(unquote(value)[0]):
            continue  # `Firmware Signature: certified`
        if key.lower() in value.lower():
            continue
        if is_placeholder(value):
            yield from _literal_in_substitution(text, match.start(4), value)
            continue
        if value[0] not in "'\"" and "=" in value.rstrip("="):
            continue  # another assignment (`v=1; a=rsa`), not this key's value
        start, end = match.span(4)
        if value[0] not in "'\"" and separator in ":=":
            whole_line = _rest_of_line(text, match.start(2), start, end)
            if _reads_as_a_sentence(text[start:whole_line], text[end : end + 40], separator,
                                    whole_line > end):  # fmt: skip
                continue
            end = whole_line
        yield span(text, start, end, "password")


def _label_before(text: str, key_start: int) -> str:
    """The words before a key on its line, which may say what it is (`Master Password:`,
    `Secret Key:`): up to two, within a bounded look back."""
    line = text[max(0, key_start - 40) : key_start]
    words = re.search(r"(?:^|\n)[ \t\-*\"']*((?:[A-Za-z][\w\-]*[ \t]+){1,2})$", line)
    return words.group(1) if words else ""


def _reads_as_a_sentence(value: str, after: str, separator: str, whole_line: bool) -> bool:
    """`passwd: all authentication tokens updated`, `AUTH: Received control message: …`: a
    word of the language with more words after it is a log line's message, not a value. A
    line that is all value (`Master Password: Harbour lantern 1987 velvet`) is a passphrase
    unless it starts like a sentence."""
    first = re.match(r"[A-Za-z]+", value)
    if first is None or separator != ":":
        return False
    if first.group(0).lower() in COMMON_WORDS:
        return True
    if whole_line:
        return False
    plain_word = first.group(0) == value.split()[0] and first.group(0)[1:].islower()
    return plain_word and bool(re.match(r"[ \t]+[a-z]+\b", value[first.end() :] + after))


_SUBSTITUTED_LITERAL = re.compile(r"""\$\([^()'"\n]{1,80}?(['"])([^'"$\n]{3,200})\1[ \t]*\)""")


def _literal_in_substitution(text: str, start: int, value: str) -> Iterator[Finding | None]:
    """`--sftp-pass "$(rclone obscure 'Walnut+Cabin+Seven')"`: the literal handed to the
    command that turns it into the value is the secret."""
    found = _SUBSTITUTED_LITERAL.search(value)
    if found is not None:
        yield span(text, start + found.start(2), start + found.end(2), "password")


def _random_under_a_key(key: str, value: str) -> bool:
    """`$Key = "22c7…"`: a bare `key` names a secret when what it holds is machine-made."""
    words = key_words(key)
    public = len(words) > 1 and words[-2] in ("public", "pub")
    return bool(words) and words[-1] == "key" and not public and looks_random(unquote(value)[0], 20)


def _rest_of_line(text: str, key_start: int, start: int, end: int) -> int:
    """Where a bare value ends: the end of its line when the line is just `key: value`
    (looked at within a bounded window, so a long line stays linear)."""
    line_start = text.rfind("\n", max(0, key_start - 40), key_start) + 1
    before = text[line_start:key_start]
    labelled = re.fullmatch(r"[ \t\-\"'*]*(?:\w+[ \t]+){0,2}", before)
    if line_start == 0 and key_start > 40 or not labelled:
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
        if not names_a_secret(name) or value.startswith("-"):
            continue
        if is_placeholder(value):
            yield from _literal_in_substitution(text, match.start(4), value)
        else:
            yield span(text, *match.span(4), "password")
