"""Secrets in the HTTP traffic people paste from Fiddler, a HAR file or the browser's
"copy as cURL": session cookies (a `Cookie:`/`Set-Cookie:` header, `curl -b`, a HAR cookie
object) and basic-auth pairs a script builds before encoding them (`GetBytes("key:X")`,
`$pair = "sid:token"`).

A cookie is secret when its name says it holds a session or a login (`PHPSESSID`,
`.AspNetCore.Cookies`, `wordpress_logged_in_…`) or its value is machine-made; `theme=dark`
and `_ga=GA1.2…` analytics ids are not secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, span
from plugin.kernel.redaction.values import is_placeholder, looks_random, names_a_secret

_COOKIE_HEADER = re.compile(
    r"(?im)(?:^|[\"'\s])(?:set-)?cookie[\"']?[ \t]*:[ \t]*([^\r\n\"']{3,4000})"
    r"|(?:^|\s)(?:-b|--cookie)[ \t]+[\"']([^\"'\r\n]{3,4000})[\"']"
)
_COOKIE_PAIR = re.compile(r"(?:^|;)[ \t]*([^=;\s]{1,120})=([^;\s]*)")
_SESSION_NAME = re.compile(
    r"(?i)sess|sid$|^sid|auth|login|logged|token|jwt|remember|identity|\.aspnet|"
    r"^__(?:host|secure)-|csrf|xsrf|sso|saml|oidc|access|refresh"
)
_NOT_SECRET_ATTRIBUTES = frozenset(
    {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority"}
)
_HAR_COOKIE = re.compile(
    r"[\"']name[\"'][ \t]*:[ \t]*[\"']([^\"'\r\n]{1,120})[\"'][ \t]*,[ \t]*"
    r"[\"']value[\"'][ \t]*:[ \t]*[\"']([^\"'\r\n]{4,4000})[\"']"
)
# A user:secret string a script is about to base64-encode for a Basic header.
_PAIR_LITERAL = re.compile(
    r"(?i)(?:GetBytes\(|\$(?:pair|creds?|credentials|auth\w*|basic\w*|userpass\w*)[ \t]*=)"
    r"[ \t]*[\"']([^\"':\s$]{1,120}):([^\"'\s]{1,200})[\"']"
)


def detect(text: str) -> Iterator[Finding | None]:
    for match in _COOKIE_HEADER.finditer(text):
        group = 1 if match.group(1) is not None else 2
        yield from _cookies(text, match.start(group), match.group(group))
    for match in _HAR_COOKIE.finditer(text):
        if _secret_cookie(match.group(1), match.group(2)):
            yield span(text, *match.span(2), "token")
    for match in _PAIR_LITERAL.finditer(text):
        user, secret = match.group(1), match.group(2)
        if not is_placeholder(secret) and len(secret) >= 3 and not secret.startswith("$"):
            yield span(text, *match.span(2), "password")
        if looks_random(user, 16):  # an API key sent as the user (Freshdesk, Zendesk)
            yield span(text, *match.span(1), "api_key")


def _cookies(text: str, offset: int, header: str) -> Iterator[Finding | None]:
    for pair in _COOKIE_PAIR.finditer(header):
        name, value = pair.group(1), pair.group(2)
        if name.lower() in _NOT_SECRET_ATTRIBUTES:
            continue
        if _secret_cookie(name, value):
            yield span(text, offset + pair.start(2), offset + pair.end(2), "token")


def _secret_cookie(name: str, value: str) -> bool:
    if len(value) < 8 or is_placeholder(value):
        return False
    if name.lower().startswith(("_ga", "_gid", "_fbp", "_hj", "lang", "theme", "locale")):
        return False
    return bool(_SESSION_NAME.search(name)) or names_a_secret(name) or looks_random(value, 24)
