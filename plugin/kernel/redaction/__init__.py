"""Redaction: what runs before any text leaves for the LLM or reaches a customer-visible note.

Three layers, each replacing a secret with `[REDACTED]`:
- `redact_sensitive`: parameter values, by the template schema (and by a secret-looking name).
- `redact_values`: known secret values wherever they appear in a text, in every form they
  may be written in (quoted for a script, JSON- or URL-escaped...). Values shorter than 4
  characters are left alone: replacing "1" or "no" everywhere would wreck the text.
- `redact_text` / `find_secrets`: secret-looking strings in text nobody declared (chat
  messages, facts, pasted scripts, ticket text, notes), found by eight detectors: key
  material (keys.py), shapes of their own (tokens.py), pasted HTTP traffic (web.py), names
  of keys (keyvalue.py), admin tools' arguments (commands.py), the way people write them
  down (prose.py), codes under their heading (codes.py) and the way people make them
  (shapes.py).

Every function is idempotent (redacting twice gives the same text as once). The corpus in
tests/data/secrets is the source of truth; `bench/redaction.py` prints recall and false
positives on it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from plugin.kernel.redaction import codes, commands, keys, keyvalue, prose, shapes, tokens, web
from plugin.kernel.redaction.findings import REDACTED, Finding, apply, merged

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Finding",
    "KnownValues",
    "known_values",
    "find_secrets",
    "redact_sensitive",
    "redact_text",
    "redact_values",
    "written_forms",
]

MIN_SECRET_LENGTH = 4
_DETECTORS = (
    keys.detect,
    tokens.detect,
    web.detect,
    keyvalue.detect,
    commands.detect,
    prose.detect,
    codes.detect,
    shapes.detect,
)

# A parameter whose name says it holds a secret is redacted even if the schema forgot to.
SECRET_NAME = re.compile(
    r"password|passwd|passphrase|pwd|secret|token|api_?key|private_?key", re.IGNORECASE
)


def _spec_fields(spec: Any) -> tuple[str, bool]:
    """(name, sensitive) of a parameter spec: a model with those attributes, or its JSON."""
    if isinstance(spec, Mapping):
        return str(spec.get("name", "")), bool(spec.get("sensitive", False))
    return str(spec.name), bool(spec.sensitive)


def redact_sensitive(parameters: Mapping[str, Any], schema: Iterable[Any]) -> dict[str, Any]:
    """A copy of `parameters` with the value of each sensitive parameter set to [REDACTED].

    Sensitive: declared `sensitive` in the schema (specs or their JSON dicts), or named like
    a secret (password, pwd, secret, token, api_key, private_key...). None stays None.
    """
    sensitive = {name for name, flagged in map(_spec_fields, schema) if flagged}
    return {
        name: REDACTED
        if value is not None and (name in sensitive or SECRET_NAME.search(name))
        else value
        for name, value in parameters.items()
    }


_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def written_forms(secret: str) -> set[str]:
    """The secret as it may appear in a text: raw, JSON-escaped, URL-encoded, HTML-escaped,
    base64-encoded, and inside each script language's quoted literal (PowerShell doubles its
    single quotes, bash closes and reopens the quotes around `'`, cmd doubles `%`)."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
        "".join(ch * 2 if ch in _PS_SINGLE_QUOTES else ch for ch in secret),
        secret.replace("'", "'\\''"),
        secret.replace("%", "%%"),
    }
    if len(secret) >= 6:
        forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return forms


@dataclass(frozen=True)
class KnownValues:
    """Known secret values compiled once, to scrub many texts (an LLM request, a stream)."""

    pattern: re.Pattern[str] | None
    longest: int  # the longest written form: how much of a stream to hold back

    def sub(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text) if self.pattern is not None and text else text


def known_values(secrets: Iterable[Any]) -> KnownValues:
    """Longest forms first, so a secret that contains another is replaced whole. Booleans,
    None and values shorter than MIN_SECRET_LENGTH characters are skipped."""
    forms: set[str] = set()
    for secret in secrets:
        if secret is None or isinstance(secret, bool):
            continue
        value = str(secret)
        if len(value) < MIN_SECRET_LENGTH or value in REDACTED:
            continue
        forms |= written_forms(value)
    if not forms:
        return KnownValues(None, 0)
    ordered = sorted(forms, key=len, reverse=True)
    return KnownValues(re.compile("|".join(re.escape(form) for form in ordered)), len(ordered[0]))


def redact_values(text: str, secrets: Iterable[Any]) -> str:
    """Replace each known secret value (and its quoted/escaped forms) by [REDACTED]."""
    return known_values(secrets).sub(text)


def find_secrets(text: str) -> list[Finding]:
    """Every secret-looking span of `text`, in order, overlaps merged. What is already
    redacted is not found again (redacting twice gives the same text as once)."""
    if not text:
        return []
    markers = [(m.start(), m.end()) for m in re.finditer(re.escape(REDACTED), text)]
    found = _everywhere(text, merged(found for detect in _DETECTORS for found in detect(text)))
    if not markers:
        return found
    return [f for f in found if not any(f.start < end and start < f.end for start, end in markers)]


_REPEATED_MIN = 6  # shorter values ("1234") would hit unrelated numbers and words
_REPEATED_MAX_VALUES = 100


def _everywhere(text: str, found: list[Finding]) -> list[Finding]:
    """A secret found once is a secret wherever else it is written in the same text ("…is
    "open sesame open sesame", without quotes: open sesame open sesame")."""
    kinds = {text[f.start : f.end]: f.kind for f in found if f.end - f.start >= _REPEATED_MIN}
    if not kinds:
        return found
    ordered = sorted(kinds, key=len, reverse=True)[:_REPEATED_MAX_VALUES]
    pattern = re.compile("|".join(re.escape(value) for value in ordered))
    again = (Finding(*m.span(), kinds[m.group(0)]) for m in pattern.finditer(text))
    return merged([*found, *again])


def redact_text(text: str) -> str:
    """Replace secret-looking strings in free text by [REDACTED] (see the module doc)."""
    findings = find_secrets(text)
    return apply(text, findings) if findings else text
