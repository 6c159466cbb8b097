"""Whether a word written in prose is a credential: the tests the prose and shape detectors
share. A value counts when it has what people put in passwords (digits, symbols, inner
capitals) and is not something else with those characters (a path, an address, a version,
an error code, a host name, a cmdlet)."""

from __future__ import annotations

import re

from plugin.kernel.redaction.values import STATUS_WORDS, is_placeholder, looks_random
from plugin.kernel.redaction.vocabulary import COMMON_WORDS

NOT_A_VALUE = re.compile(
    r"""^(?:
        .*[\\/].* | .*://.* | [\w.+\-]+@[\w\-]+\.[\w.\-]+
      | (?i:.*\.(?:com|net|org|local|exe|dll|msi|ps1|txt|log|xml|json|csv|pdf|zip|ini|conf
                  |cfg|sh|bat|cmd))
      | \#?\d+ | v?\d+(?:[.\-]\d+)+ | (?i:0x[0-9a-f]+) | [0-9a-fA-F:.\-]+ | (?i:kb\d+|cve-.*)
      | .*\$[({].* | %\w+% | [@#$]\w+ | \w+\(\) | [A-Z][a-z]+-[A-Z][A-Za-z]+
    )$""",
    re.VERBOSE,
)
# Without a trigger word before it, neither is a host name (SRV-APP02, PC17, fs01).
HOST_LIKE = re.compile(
    r"^(?:[A-Z][A-Z0-9]*-[A-Z0-9-]+|[A-Z]{2,}\d+|[a-z0-9]+(?:-[a-z0-9]+)+|[a-z]+\d+)$"
)
SYMBOLS = "!@#$%^&*?~"
_USER_AT_HOST = re.compile(r"[a-z0-9_.\-]+@[a-z0-9_.\-]+")
_TOKEN_CHARACTERS = re.compile(r"/?[A-Za-z0-9+_\-.~][A-Za-z0-9+/_\-.~]*=*")


def has_symbol(value: str) -> bool:
    """A password's special character inside the value (not the `=` of a key=value pair,
    the `+` of an encoded space, a trailing `$` of a computer account, a URL escape)."""
    core = value.rstrip("$.,;:!?)")
    key_value = re.match(r"[A-Za-z_][\w.]*=", core)
    if key_value or re.search(r"%[0-9A-Fa-f]{2}", core) or "{" in core or "[" in core:
        return False
    at = core.find("@")
    if at >= 0 and (len(core) - at - 1 < 2 or _USER_AT_HOST.fullmatch(core)):
        return False
    if any(ch in SYMBOLS for ch in core[1:]):
        return True
    # `Summer2023!`: letters and digits closed by a password's typical symbol.
    trailing = value.rstrip(".,;:)")
    return trailing[-1:] in "!#*" and any(ch.isdigit() for ch in core) and len(core) > 3


def looks_like_password(value: str, *, strict: bool) -> bool:
    """After a trigger ("password is …"): strict when no connector said a value follows."""
    if len(value) < 3 or value.lower() in COMMON_WORDS or value.lower() in STATUS_WORDS:
        return False
    if is_placeholder(value) or NOT_A_VALUE.match(value) and not has_symbol(value):
        return False
    has_digit = any(ch.isdigit() for ch in value)
    inner_upper = any(ch.isupper() for ch in value[1:]) and any(ch.islower() for ch in value)
    if strict:
        return has_digit and any(ch.isalpha() for ch in value) or has_symbol(value)
    return has_digit or has_symbol(value) or inner_upper or looks_random(value, 12)


def password_shaped(value: str) -> bool:
    """With no trigger at all: letters and digits with a symbol inside, and not a path,
    address, version or host."""
    if NOT_A_VALUE.match(value) or HOST_LIKE.match(value) or is_placeholder(value):
        return False
    core = value.rstrip(".,;:!?)")
    if re.search(r"[A-Za-z_]\w+=\w", core):
        return False  # key=value data (`target=…:user=…`, a query string), not one value
    letters = sum(ch.isalpha() for ch in core)
    return letters >= 2 and any(ch.isdigit() for ch in core) and has_symbol(value)


def token_like(value: str) -> bool:
    """Only the characters of keys and tokens (base64, base64url, hex), not a path."""
    return bool(_TOKEN_CHARACTERS.fullmatch(value)) and value.count("/") < 2
