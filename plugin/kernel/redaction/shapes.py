"""Secrets with no word before them, recognised by how people make them: tokens shaped
like passwords (`Kp@tel-0610`, `Tr0ub4dor&3`), common passwords (`Password123`,
`Summer2023!`), a word and a year (`Biscuit2021`), and `admin:secret` pairs."""

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
    r"admin|root|toor|ilove[a-z]{2,12}|qwert[yz]|asdfgh?|zxcvbn)[!@#$%^&*.]?\d{1,4}"
    r"[!@#$%^&*?.]*"
    r"|(?i:1qaz2wsx(?:3edc)?(?:4rfv)?|q1w2e3r4(?:t5)?|1q2w3e4r(?:5t)?|zaq12wsx)[!@#$%^&*?.]*)"
    r"(?![\w@\\/-]|\.\w)"
)
_YEAR_WORD = re.compile(
    r"(?<![\w@.\\/-])([A-Z][a-z]{2,}[\w]*?(?:19|20)\d\d[!#$%&*?@+]*)(?![\w@\\/-]|\.\w)"
)
_USER_COLON_SECRET = re.compile(
    r"(?i)(?<![\w/\\:.@-])(?:admin|administrator|root|sa|pi|ubnt|guest|support|service|"
    r"operator|manager|user|super|supervisor|tech|install|backup|ftp|kiosk|test|demo)"
    r":([^\s:/@\\]{4,60})(?![\w/\\:.@-])"
)


# A .pgpass line, `host:port:database:user:password`: the last field is the password.
_PGPASS_LINE = re.compile(
    r"(?m)^[\w.\-*]+:(?:\d{2,5}|\*):[^:\s]+:[^:\s]+:((?:[^:\s\\]|\\.)+)[ \t]*$"
)
# A shell or device prompt at the start of a line: `root@web03:~#`, `SW-CORE-01#show`.
_PROMPT = re.compile(r"[\w.\-]+(?:@[\w.\-]+(?::\S*?)?)?[#$>%](?:[a-z]\w*)?")


def detect(text: str) -> Iterator[Finding | None]:
    for match in _PASSWORD_SHAPE.finditer(text):
        core = match.group(1).rstrip(".,;:)")
        line_start = text.rfind("\n", 0, match.start(1)) + 1
        if not text[line_start : match.start(1)].strip() and _PROMPT.fullmatch(core):
            continue
        if core.count(":") >= 2:
            continue  # a record (`root:*:19800:0:99999:7`), not a password
        if password_shaped(core) and core[:1] not in "@=":
            yield span(text, match.start(1), match.start(1) + len(core), "password")
    for match in _PGPASS_LINE.finditer(text):
        yield span(text, *match.span(1), "password")
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
