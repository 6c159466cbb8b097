"""One-time and recovery codes, MFA seeds and recovery phrases, found under the words that
introduce them: "Slack backup codes:" and the lines of codes below, "recovery code: k7qm 2zrx
…", "MFA seed …: N5XW 4ZLO …", "Proton recovery phrase: lemon quarter dignity …".

A code alone is indistinguishable from a ticket number or a part number, so nothing here
fires without its heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mnemonic import Mnemonic

from plugin.kernel.redaction.findings import Finding, span

_BIP39 = frozenset(Mnemonic("english").wordlist)

_HEADING = re.compile(
    r"(?i)\b(?:(?:backup|recovery|bypass|emergency|scratch|reset|one-time|verification|"
    r"mfa|2fa|2-step|two-factor)[ \t_\-]+codes?|(?:mfa|totp|otp|2fa|authenticator)[ \t]+"
    r"(?:seed|secret)|(?:setup|manual[ \t]+entry|totp|2fa|mfa)[ \t]+key)\b([^\n]*)"
)
_ONE_CODE = (
    r"\d{3,10}(?:[ \t]\d{3,10})?"  # 5289 9319, 84712093
    r"|[A-Za-z0-9]{3,6}(?:-[A-Za-z0-9]{3,6}){1,7}"  # aXq7-29kL-m3Tz
    r"|[A-Za-z0-9]{4}(?:[ \t][A-Za-z0-9]{4}){2,15}"  # k7qm 2zrx vlp9 tw4b (base32 seeds)
    r"|[A-Za-z0-9]{6,40}"  # 5QKXZ7M2RV, 84hq2kzt, a 32-character recovery code
)
_CODE = re.compile(rf"(?<![\w-])({_ONE_CODE})(?![\w-])")
# A line of nothing but (numbered) codes: "1. 5289 9319   2. 2042 2661".
_CODE_LINE = re.compile(rf"[ \t]*(?:(?:\d{{1,2}}[.)][ \t]*)?(?:{_ONE_CODE})[ \t,]*)+")
_PHRASE = re.compile(
    r"(?i)\b(?:(?:recovery|seed|secret|backup|wallet|mnemonic)[ \t]+(?:phrase|words|sentence)"
    r"|mnemonic)\b[^\n:]{0,100}:[ \t]*((?:[a-z]{3,8}[ \t]+){11,23}[a-z]{3,8})\b"
)


def detect(text: str) -> Iterator[Finding | None]:
    for heading in _HEADING.finditer(text):
        rest_start = heading.start(1)
        colon = heading.group(1).rfind(":")
        if colon >= 0:
            yield from _codes_in(text, rest_start + colon + 1, heading.end(1))
        yield from _code_lines(text, heading.end() + 1)
    for match in _PHRASE.finditer(text):
        yield span(text, *match.span(1), "recovery_code")
    yield from _seed_words(text)


_WORD = re.compile(r"\b[a-z]{3,8}\b")


def _seed_words(text: str) -> Iterator[Finding | None]:
    """Twelve or more BIP39 words in a row (a wallet's recovery phrase), with or without a
    heading: the word list is precise enough on its own."""
    run_start = run_end = -1
    count = 0
    for match in _WORD.finditer(text):
        between = text[run_end : match.start()] if count else ""
        if match.group(0) in _BIP39 and (not count or between.strip(" \t\r\n,") == ""):
            run_start = match.start() if not count else run_start
            run_end, count = match.end(), count + 1
            continue
        if count >= 12:
            yield span(text, run_start, run_end, "recovery_code")
        count = 0
        if match.group(0) in _BIP39:
            run_start, run_end, count = match.start(), match.end(), 1
    if count >= 12:
        yield span(text, run_start, run_end, "recovery_code")


def _code_lines(text: str, position: int) -> Iterator[Finding | None]:
    """The lines of codes under a heading; up to three lines before the first (an account
    name, a blank line) may come between."""
    skippable, found = 3, False
    while position < len(text):
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        line = text[position:line_end]
        if line.strip() and _CODE_LINE.fullmatch(line):
            found = True
            yield from _codes_in(text, position, line_end)
        elif found or skippable == 0 or len(line) > 80:
            return
        else:
            skippable -= 1
        position = line_end + 1


def _codes_in(text: str, start: int, end: int) -> Iterator[Finding | None]:
    for match in _CODE.finditer(text, start, end):
        code = re.sub(r"[ \t]", "", match.group(1))
        if code.isdigit() or re.search(r"\d", code) and re.search(r"[A-Za-z]", code):
            yield span(text, *match.span(1), "recovery_code")
