"""Redaction: what runs before any text leaves for the LLM or reaches a customer-visible note.

Three layers, each replacing a secret with `[REDACTED]`:
- `redact_sensitive`: parameter values, by the template schema (and by a secret-looking name).
- `redact_values`: known secret values wherever they appear in a text, also in the escaped
  forms the renderer writes them in. Values shorter than 4 characters are left alone:
  replacing "1" or "no" everywhere would wreck the text and hides nothing.
- `redact_text`: secret-looking strings by pattern, for text nobody declared (chat messages,
  pasted scripts, PSA notes).

Every function is idempotent (redacting twice gives the same text as once), and the patterns
are anchored on syntax (an `=`, a command line, a key prefix) rather than on words, so
ordinary prose such as "the password expired" or the `pwd` command is untouched.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "redact_sensitive", "redact_text", "redact_values"]

REDACTED = "[REDACTED]"  # what a redacted value or secret reads as, everywhere
MIN_SECRET_LENGTH = 4

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
    """The secret as it may appear in a text: raw, JSON-escaped, and inside each script
    language's quoted literal (PowerShell doubles its single quotes, bash closes and
    reopens the quotes around `'`, cmd doubles `%`)."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        "".join(ch * 2 if ch in _PS_SINGLE_QUOTES else ch for ch in secret),
        secret.replace("'", "'\\''"),
        secret.replace("%", "%%"),
    }


def redact_values(text: str, secrets: Iterable[Any]) -> str:
    """Replace each known secret value (and its quoted/escaped forms) by [REDACTED].

    Longest forms first, so a secret that contains another is replaced whole. Booleans,
    None and values shorter than MIN_SECRET_LENGTH characters are skipped.
    """
    forms: set[str] = set()
    for secret in secrets:
        if secret is None or isinstance(secret, bool):
            continue
        value = str(secret)
        if len(value) < MIN_SECRET_LENGTH or value in REDACTED:
            continue
        forms |= written_forms(value)
    if not forms:
        return text
    pattern = re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))
    return pattern.sub(REDACTED, text)


# --- patterns ------------------------------------------------------------------------------

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _keep_prefix(match: re.Match[str]) -> str:
    """Group 1 is kept; group 2 (the secret, maybe quoted) becomes [REDACTED], quotes kept."""
    secret = match.group(2)
    if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "'\"":
        return match.group(1) + secret[0] + REDACTED + secret[-1]
    return match.group(1) + REDACTED


def _whole(_: re.Match[str]) -> str:
    return REDACTED


def _private_key(match: re.Match[str]) -> str:
    return f"{match.group(1)}\n{REDACTED}\n{match.group(3)}"


def _basic_credentials(match: re.Match[str]) -> str:
    # Only base64 that decodes to "user:secret" is a credential; "Basic troubleshooting" is not.
    encoded = match.group(2)
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return match.group(1) + REDACTED if b":" in decoded else match.group(0)


_QUOTED_PS = r"'(?:[^'\r\n]|'')*'|\"(?:[^\"`\r\n]|`.)*\""
_SECURE_STRING_SECRET = re.compile(
    rf"{_QUOTED_PS}|(?<=-String)([ \t]+)([^\s\-$(\[{{][^\s)]*)", re.IGNORECASE
)


def _secure_string_arguments(match: re.Match[str]) -> str:
    """ConvertTo-SecureString's literal arguments are the plain-text secret: redact them."""

    def one(token: re.Match[str]) -> str:
        if token.group(1) is not None:  # the bare word after -String
            return token.group(1) + REDACTED
        return token.group(0)[0] + REDACTED + token.group(0)[-1]

    return match.group(1) + _SECURE_STRING_SECRET.sub(one, match.group(2))


_KEY_NAMES = (
    r"password|passwd|pwd|passphrase|secret|client_secret|api[_-]?key|access[_-]?token|"
    r"refresh[_-]?token|auth[_-]?token|token|private[_-]?key|aws_secret_access_key|"
    r"secret[_-]?key|sharedaccesskey|accountkey"
)
_PS_SECRET_PARAMETERS = (
    r"password|passwd|pwd|pass|newpassword|oldpassword|accountpassword|secret|clientsecret|"
    r"client-secret|apikey|api-key|token|accesstoken|access-token"
)
# A bare value may not start like a variable, an expression, an option or a placeholder:
# those are not secrets (`-Password $pw`, `password=%PW%`, `-Password {{password}}`).
_BARE = r"[^\s$%(\[{<'\"\-][^\s;&|'\")]*"
_QUOTED = r"\"[^\"\r\n]*\"|'[^'\r\n]*'"
# What may follow a bare secret on a command line; in prose a word follows instead.
_COMMAND_END = r"(?=[ \t]*(?:$|/|&|\||;))"
_PARAMETER_END = r"(?=[ \t]*(?:$|[-/|;&)}]))"

_RULES: list[Rule] = [
    # Private key blocks (PEM, OpenSSH, PGP); a truncated block is redacted to the end.
    (
        re.compile(
            r"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)(.*?)"
            r"(-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        _private_key,
    ),
    # Authorization headers: a schemeless token here; Bearer and Basic by the rules after.
    (
        re.compile(
            r"(\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?)([A-Za-z0-9\-._~+/]{20,}=*)",
            re.IGNORECASE,
        ),
        _keep_prefix,
    ),
    (re.compile(r"(\bbearer\s+)([A-Za-z0-9\-._~+/]{16,}=*)", re.IGNORECASE), _keep_prefix),
    (re.compile(r"(\bBasic\s+)([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"), _basic_credentials),
    # API keys and tokens of well-known shapes.
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:"
            r"sk-ant-[A-Za-z0-9_\-]{16,}"  # Anthropic
            r"|sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"  # OpenAI
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"  # AWS access key id
            r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
            r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
            r"|AIza[0-9A-Za-z_\-]{35}"  # Google
            r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
            r"|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"  # JWT
            r")"
        ),
        _whole,
    ),
    # ConnectWise API key pair company+publickey:privatekey: the private key goes.
    (
        # Anchored at the start of a run (the lookbehind) and possessive, so a long run
        # without a "+" is scanned once, not once per position (linear, not quadratic).
        re.compile(
            r"((?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]++\+[A-Za-z0-9]{10,64}:)([A-Za-z0-9]{10,64})\b"
        ),
        _keep_prefix,
    ),
    # Credentials in a URL: scheme://user:password@host.
    (
        re.compile(
            r"((?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*+://[^\s:/@]++:)([^\s@/]++)(?=@)",
            re.IGNORECASE,
        ),
        _keep_prefix,
    ),
    # PowerShell: the plain text given to ConvertTo-SecureString.
    (
        re.compile(
            rf"(\bConvertTo-SecureString\b)((?:{_QUOTED_PS}|[^'\"\r\n;|)])*)", re.IGNORECASE
        ),
        _secure_string_arguments,
    ),
    # Secret-named parameters on a command line: -Password 'x', -Password:x, --password=x.
    (
        re.compile(
            rf"((?<![\w-])--?(?:{_PS_SECRET_PARAMETERS})(?:[ \t]*[:=][ \t]*|[ \t]+))"
            rf"({_QUOTED_PS}|{_BARE}{_PARAMETER_END})",
            re.IGNORECASE | re.MULTILINE,
        ),
        _keep_prefix,
    ),
    # Windows switches: cmdkey /pass:x, /password:x, /pwd:x.
    (
        re.compile(rf"((?<!\S)/(?:pass|password|pwd):)({_QUOTED}|{_BARE})", re.IGNORECASE),
        _keep_prefix,
    ),
    # psexec -p secret.
    (
        re.compile(
            rf"(\bpsexec(?:64)?(?:\.exe)?\b[^\r\n]{{0,400}}?[ \t]-p[ \t]+)({_QUOTED}|{_BARE})",
            re.I,
        ),
        _keep_prefix,
    ),
    # net user NAME PASSWORD [/options]  (`*` prompts for it: nothing to hide).
    (
        re.compile(
            rf"(\bnet(?:\.exe)?[ \t]+user[ \t]+(?:\"[^\"\r\n]*\"|[^\s/\"]+)[ \t]+)"
            rf"(\"[^\"\r\n]*\"|[^\s/*\"]\S*){_COMMAND_END}",
            re.IGNORECASE | re.MULTILINE,
        ),
        _keep_prefix,
    ),
    # net use [X:] \\server\share PASSWORD [/user:...]
    (
        re.compile(
            rf"(\bnet(?:\.exe)?[ \t]+use[ \t]+(?:(?:[A-Za-z]:|\*)[ \t]+)?\\\\\S+[ \t]+)"
            rf"(\"[^\"\r\n]*\"|[^\s/*\"]\S*){_COMMAND_END}",
            re.IGNORECASE | re.MULTILINE,
        ),
        _keep_prefix,
    ),
    # key=value (connection strings, env files, query strings); quoted values may be spaced.
    (
        re.compile(
            rf"((?<![A-Za-z0-9_])(?:{_KEY_NAMES})(?:[ \t]*=[ \t]*(?={_QUOTED})|=))"
            rf"({_QUOTED}|{_BARE})",
            re.IGNORECASE,
        ),
        _keep_prefix,
    ),
    # "key": "value" (JSON, YAML with quoted values).
    (
        re.compile(
            rf"([\"']?(?<![A-Za-z0-9_])(?:{_KEY_NAMES})[\"']?[ \t]*:[ \t]*)"
            r"(\"(?:[^\"\\\r\n]|\\.)*\"|'[^'\r\n]*')",
            re.IGNORECASE,
        ),
        _keep_prefix,
    ),
]


def redact_text(text: str) -> str:
    """Replace secret-looking strings in free text by [REDACTED] (see the module doc)."""
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text
