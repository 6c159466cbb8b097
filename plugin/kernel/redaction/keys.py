"""Key material: armored blocks (PEM, OpenSSH, OpenVPN static keys, PGP secret keys), PuTTY
keys, the private members of JSON Web Keys and .NET `RSAKeyValue` XML, age and minisign
secret keys, and the contents of a key or PSK file printed by `cat`/`type`/`Get-Content`.

What a public half looks like (certificates, public keys, signatures) is left alone: those
are pasted into tickets all the time and say nothing an attacker can use.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, finding, span
from plugin.kernel.redaction.values import looks_random

# Any armored block; its label says whether the body is secret.
_ARMOR_BEGIN = re.compile(r"-----BEGIN ([A-Za-z0-9 ]{1,60}?)-----")
_PUBLIC_LABEL = re.compile(
    r"(?i)\b(?:certificate|public|csr|crl|signature|signed|message|x509|pkcs7|params|"
    r"parameters)\b"
)
_PUTTY_KEY = re.compile(r"Private-Lines:\s*\d+\s*\n((?:[A-Za-z0-9+/=]+\r?\n?)+)")
_AGE_KEY = re.compile(r"\bAGE-SECRET-KEY-1[0-9A-Z]{40,}\b")
# minisign/signify: the line after a comment that says it is a secret key.
_COMMENTED_KEY = re.compile(
    r"(?im)^untrusted comment:[^\n]*\bsecret key\b[^\n]*\r?\n([A-Za-z0-9+/]{40,}={0,2})"
)
_JWK_PRIVATE_MEMBER = re.compile(
    r"[\"'](?:d|p|q|dp|dq|qi|k|oth)[\"'][ \t]*:[ \t]*[\"']([A-Za-z0-9_\-+/=]{16,})[\"']"
)
_XML_KEY_MEMBER = re.compile(r"<(P|Q|DP|DQ|InverseQ|D)>\s*([A-Za-z0-9+/=\s]{16,}?)\s*</\1>")
# `cat /etc/zabbix/agent.psk` and the line it printed.
_KEY_FILE_DUMP = re.compile(
    r"(?im)^[^\n]*\b(?:cat|type|more|less|head|Get-Content|gc)[ \t]+[\"']?[^\s\"']*"
    r"(?:\.(?:psk|key|pem|secret|token)|(?:secret|token|passwd|password|psk)[\w.\-]*)[\"']?"
    r"[ \t]*\r?\n((?:[ \t]*[A-Za-z0-9+/=_\-]{16,}[ \t]*(?:\r?\n|$)){1,40})"
)


def detect(text: str) -> Iterator[Finding | None]:
    yield from _armored(text)
    yield from _der_private_key(text)
    for match in _PUTTY_KEY.finditer(text):
        yield finding(match, 1, "private_key")
    for match in _AGE_KEY.finditer(text):
        yield finding(match, 0, "private_key")
    for match in _COMMENTED_KEY.finditer(text):
        yield finding(match, 1, "private_key")
    if re.search(r"[\"']kty[\"'][ \t]*:", text):
        for match in _JWK_PRIVATE_MEMBER.finditer(text):
            yield finding(match, 1, "private_key")
    if "RSAKeyValue" in text or "DSAKeyValue" in text:
        for match in _XML_KEY_MEMBER.finditer(text):
            yield finding(match, 2, "private_key")
    for match in _KEY_FILE_DUMP.finditer(text):
        start = match.start(1)
        for line in match.group(1).splitlines(keepends=True):
            if looks_random(line.strip(), 16) or re.fullmatch(r"[0-9a-fA-F]{16,}", line.strip()):
                yield span(text, start, start + len(line), "private_key")
            start += len(line)


def _armored(text: str) -> Iterator[Finding | None]:
    """Each block runs to its END line, or to the end of a truncated paste; a search resumes
    after the block, so a thousand BEGIN lines with no END stay linear."""
    position = 0
    while (begin := _ARMOR_BEGIN.search(text, position)) is not None:
        label = begin.group(1)
        end = text.find(f"-----END {label}-----", begin.end())
        body_end = len(text) if end < 0 else end
        body = re.sub(r"\s", "", text[begin.end() : body_end])
        elided = re.fullmatch(r"[.…xX*]+", body)
        if not _PUBLIC_LABEL.search(label) and len(body) >= 8 and not elided:
            yield span(text, begin.end(), body_end, "private_key")
        position = body_end if end < 0 else end + len(label) + 14


# DER object identifiers that only private key containers carry: PKCS#12 (a .pfx), PBES2
# (an encrypted PKCS#8 key), and an unencrypted PKCS#8 key's version-then-algorithm start.
_PRIVATE_DER_MARKERS = (
    bytes.fromhex("2a864886f70d010c"),  # 1.2.840.113549.1.12 (PKCS#12)
    bytes.fromhex("2a864886f70d01050d"),  # 1.2.840.113549.1.5.13 (PBES2)
)
_BASE64_BLOB = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{200,}={0,2}(?![A-Za-z0-9+/=])")


def _der_private_key(text: str) -> Iterator[Finding | None]:
    """A .pfx or PKCS#8 key pasted as bare base64 (an ARM template's certificateData, a
    Key Vault export): decoded, it names what it is."""
    for match in _BASE64_BLOB.finditer(text):
        blob = match.group(0)
        try:
            der = base64.b64decode(blob + "=" * (-len(blob) % 4))[:4096]
        except (binascii.Error, ValueError):
            continue
        pkcs8 = der[:1] == b"\x30" and b"\x02\x01\x00\x30" in der[:12]
        if pkcs8 or any(marker in der for marker in _PRIVATE_DER_MARKERS):
            yield finding(match, 0, "private_key")
