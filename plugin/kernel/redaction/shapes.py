"""Secrets with no word before them, recognised by how people make them: tokens shaped
like passwords (`Kp@tel-0610`, `Tr0ub4dor&3`), common passwords (`Password123`,
`Summer2023!`), a word and a year (`Biscuit2021`), `admin:secret` pairs, and lists of
backup codes under a heading."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, span
from plugin.kernel.redaction.looks import looks_like_password, password_shaped
from plugin.kernel.redaction.vocabulary import COMMON_WORDS, PRODUCT_WORDS

_PASSWORD_SHAPE = re.compile(r"(?<![\w@.\\/:=-])([^\s\"'`()<>\[\]{},;]{6,64})")
_COMMON_PASSWORD = re.compile(
    r"(?<![\w@.\\/-])((?i:p[a@]ssw[o0]rd|passw0rd|welcome|changeme|letmein|qwerty|trustno1|"
    r"iloveyou|p@ss|summer|winter|spring|autumn|fall|sommer|verano|invierno|hiver|"
    r"admin|root|toor)[!@#$%^&*.]?\d{1,4}[!@#$%^&*?.]*)(?![\w@\\/-]|\.\w)"
)
_YEAR_WORD = re.compile(
    r"(?<![\w@.\\/-])([A-Z][a-z]{2,}[\w]*?(?:19|20)\d\d[!#$%&*?@+]*)(?![\w@\\/-]|\.\w)"
)
_USER_COLON_SECRET = re.compile(
    r"(?i)(?<![\w/\\:.@-])(?:admin|administrator|root|sa|pi|ubnt|guest|support|service|"
    r"operator|manager|user|super|supervisor|tech|install|backup|ftp|kiosk|test|demo)"
    r":([^\s:/@\\]{4,60})(?![\w/\\:.@-])"
)
_CODES_HEADING = re.compile(
    r"(?i)\b(?:backup|recovery|bypass|emergency|scratch)[ \t]+codes?\b([^\n]*)"
)
_ONE_CODE = r"\d{3,10}(?:[ \t]\d{3,10})?|[A-Za-z0-9]{4,6}-[A-Za-z0-9]{4,6}"
_CODE = re.compile(rf"(?<![\w])({_ONE_CODE})(?!\w)")
# A line of nothing but (numbered) codes: "1. 5289 9319   2. 2042 2661".
_CODE_LINE = re.compile(rf"[ \t]*(?:(?:\d{{1,2}}\.[ \t]*)?(?:{_ONE_CODE})[ \t,]*)+")


def detect(text: str) -> Iterator[Finding | None]:
    for match in _PASSWORD_SHAPE.finditer(text):
        core = match.group(1).rstrip(".,;:)")
        if password_shaped(core) and core[:1] not in "@=":
            yield span(text, match.start(1), match.start(1) + len(core), "password")
    for match in _COMMON_PASSWORD.finditer(text):
        yield span(text, *match.span(1), "password")
    for match in _YEAR_WORD.finditer(text):
        word = re.match(r"[A-Za-z]+", match.group(1)).group(0)
        if not PRODUCT_WORDS.match(word) and word.lower() not in COMMON_WORDS:
            yield span(text, *match.span(1), "password")
    for match in _USER_COLON_SECRET.finditer(text):
        value = match.group(1)
        if password_shaped(value) or looks_like_password(value, strict=True):
            yield span(text, *match.span(1), "password")
    yield from _backup_codes(text)


def _backup_codes(text: str) -> Iterator[Finding | None]:
    """Codes on the heading's line after a colon, and on the lines below it that hold
    nothing but codes."""
    for heading in _CODES_HEADING.finditer(text):
        rest_start = heading.start(1)
        colon = heading.group(1).find(":")
        if colon >= 0:
            yield from _codes_in(text, rest_start + colon + 1, heading.end(1))
        position = heading.end() + 1
        while position < len(text):
            line_end = text.find("\n", position)
            line_end = len(text) if line_end < 0 else line_end
            line = text[position:line_end]
            if not line.strip() or not _CODE_LINE.fullmatch(line):
                break
            yield from _codes_in(text, position, line_end)
            position = line_end + 1


def _codes_in(text: str, start: int, end: int) -> Iterator[Finding | None]:
    for match in _CODE.finditer(text, start, end):
        yield span(text, *match.span(1), "recovery_code")
