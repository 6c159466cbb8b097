"""Secrets in what engineers write: "I reset her password to Winter2024!", "temp pw:
Kx9#mm2", "creds are admin / Netgear#Lab1", "PIN is 4821", "la contraseña es Verano2024*".

A trigger word (password, pw, passcode, PIN, secret, token, key…, in several languages),
then at most a few words saying whose or which ("for the guest wifi"), a connector (is, =,
:, to, →, lautet…) and the value. A value is taken when it is quoted, or looks like a
credential (digits, symbols, inner capitals); ordinary words ("expired", "incorrect") are
not values. `user / secret` after a login word is a pair whose second part is the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, span
from plugin.kernel.redaction.looks import looks_like_password, password_shaped, token_like
from plugin.kernel.redaction.values import is_placeholder, looks_random
from plugin.kernel.redaction.vocabulary import UNITS

_CODE_QUALIFIERS = (
    r"door|alarm|gate|keypad|duress|master|access|bypass|backup|recovery|entry|unlock|safe|"
    r"lock|padlock|panel|engineer|installer|intercom|garage|building|cabinet|locker|phone"
)
_ROMANCE_CODE = (  # "código do alarme", "codice del citofono", "code du digicode"
    r"(?:c[oó]digo|codice|code)[ \t]+(?:de[ \t]+la|de[ \t]+los|de[ \t]+las|d[aeiou]s?|del|"
    r"della|dello|du|des|de[ \t]+l')[ \t]*"
    r"(?:alarm\w*|port[aãeo]\w*|acc?ess?o|citofono|interfone|cofre|cassaforte|coffre|"
    r"digicode|portail|garage|cadeado|lucchetto|cadenas|allarme)"
)
# Longer phrases first: "secret key" must win over "secret".
_TRIGGER = (
    r"(?:wi-?fi|network|security|wpa2?|license|licence|product|recovery|host|api|access|"
    r"private|pre-?shared|shared|encryption|the|bypass|master|routing|integration|client|"
    r"app|subscription|secret|signing|service|account|storage|auth|sas|install)[ \t_\-]+keys?|"
    r"key[ \t]+content|personal[ \t]+access[ \t]+tokens?|mot[ \t]+de[ \t]+passe|"
    rf"(?:(?:{_CODE_QUALIFIERS})[ \t]+)+codes?|{_ROMANCE_CODE}|combination|digicode|keypad|"
    r"pin[ \t-]?code|(?:netzwerk)?schl[üu]ssel|cl[ée](?:[ \t]+de[ \t]+s[ée]curit[ée])?"
    r"(?:[ \t]+r[ée]seau)?|chiave|sleutel|"
    r"pass(?:word|wd|phrase|code|wort)?s?|pw|pwd|pword|pin|puk|creds?|credentials|secret|"
    r"token|psk|pat|kennwort|contrase[ñn]a|clave|mdp|wachtwoord|senha"
)
# "to"/"para" before an article start a who-words phrase ("password to the portal is …").
_NOT_BEFORE_ARTICLE = (
    r"(?![ \t]+(?:the|a|an|his|her|their|our|my|your|its|la|el|los|las|lo|o|os|as|um|uma|"
    r"un|una|le|les|du|de)\b)"
)
_WORD_CONNECTOR = (
    rf"is[ \t]+now|ist[ \t]+jetzt|est[ \t]+maintenant|es[ \t]+ahora|is[ \t]+nu|"
    rf"is|was|are|to{_NOT_BEFORE_ARTICLE}|set[ \t]+to|changed[ \t]+to|"
    rf"reset[ \t]+to|now|will[ \t]+be|lautet|ist|es|est|é|è|para{_NOT_BEFORE_ARTICLE}|"
    r"blijft|becomes|remains"
)
_CONNECTOR = rf"(?:(?<=[ \t])(?:{_WORD_CONNECTOR})(?=[ \t])|:=|->|=>|→|=|:)"
# trigger, up to five words of who/which (not crossing a sentence), connector, value.
_TRIGGERED = re.compile(
    rf"(?i)(?<![\w$])(?<!--)(?:{_TRIGGER})(?![\w\-])"
    rf"((?:[ \t]+(?!{_CONNECTOR})[^\s.,;:!?=→]+(?:\.[^\s.,;:!?=→]+)*){{0,8}}?)"
    rf"[ \t]*(?:\([^()\n]{{0,60}}\)[ \t]*)?({_CONNECTOR})[ \t]*"
    r"(?:(?:literally|just|simply|still|currently|actually|basically)[ \t]+)?"
    rf"(\"[^\"\n]{{1,80}}\"|“[^”\n]{{1,80}}”|'[^'\n]{{1,80}}'|\S+)"
)
# trigger directly followed by the value: "pw hunter2", "pass Summer2023!".
_ADJACENT = re.compile(
    rf"(?i)(?<![\w\-$])(?:{_TRIGGER})(?![\w\-])"
    r"(?:[ \t]+(?:d[aeiou]s?|del|della|dello|du|des)[ \t]+[^\s(]+)?"  # "senha do DVR X"
    r"(?:[ \t]*[(:=][ \t]*|[ \t]+)([^\s(]+)"
)
# "…the alarm panel is behind the door, code is 4471": a bare "code" is a door's when the
# sentence is about a door, an alarm, a safe.
_CODE_IS = re.compile(r"(?i)\bcode[ \t]+(?:is|:|=|ist|est|es|è)[ \t]+(\d{4,8})\b(?![.,]\d)")
_PHYSICAL = re.compile(
    r"(?i)\b(?:door|alarm|keypad|safe|gate|lock|padlock|panel|garage|cabinet|locker|key[ \t]?box)"
)
# A value given again in other words: "…, i.e. HRB48213-2024", "Written out: Tr0mb0ne42".
_SPELLED_OUT = re.compile(
    r"(?i)(?:\bi\.e\.|\be\.g\.|\bnamely|\bwritten[ \t]+out|\bspelled[ \t]+out|"
    r"\bthat[ \t]+is)[ \t]*[,:]?[ \t]+(\"[^\"\n]{1,80}\"|[^\s\"']+)"
)
# The value before its name: "set 1qaz2wsx3edc as the password".
_VALUE_AS_SECRET = re.compile(
    r"(?i)\b(?:set|uses?|used|chose|picked|typed|entered|made)[ \t]+"
    r"(\"[^\"\n]{1,80}\"|[^\s\"']+)[ \t]+as[ \t]+(?:(?:the|her|his|their|its|a|my|our|your)"
    r"[ \t]+)?(?:new[ \t]+)?(?:password|passcode|pin|pw|passphrase)\b"
)
# "log in to the dashboard as support@ with Merak1-Supp0rt!"
_LOGIN_WITH = re.compile(
    r"(?i)\blog[ \t]?(?:in|on)\b[^\n]{0,80}?[ \t]as[ \t]+\S+[ \t]+(?:with|using|and)[ \t]+"
    r"(\"[^\"\n]{1,80}\"|[^\s\"']+)"
)
# "… changed it to X": a new value for a secret named just before.
_CHANGED_TO = re.compile(
    r"(?i)(?:\b(?:changed|reset|set|updated|rotated)(?:[ \t]+(?:it|that|them))?[ \t]+to|"
    r"\bnew[ \t]+one[ \t]*[:=]|\bnew[ \t]+(?:pw|pwd|password|pass)[ \t]*[:=]?)[ \t]+"
    r"(\"[^\"\n]{1,80}\"|[^\s\"']+)"
)
_PAIR = re.compile(
    r"(?i)\b(?:creds?|credentials|login|logon|account|admin|user(?:name)?|wi-?fi|ssid|u/p)"
    r"\b[^\n/]{0,60}?[ \t]([^\s/]{2,60})[ \t]+/[ \t]+([^\s/]{3,80})"
)
# `manager/Ledger$2022` after a login word: the compact form, taken only when the second
# part is shaped like a password (`HTTP/1.1`, `and/or` are not).
_COMPACT_PAIR = re.compile(
    r"(?i)\b(?:creds?|credentials|login|logon|account|u/p)\b[^\n/]{0,60}?[ \t]"
    r"[A-Za-z][\w.\-]{1,40}/([^\s/]{3,80})"
)


# "Recovery key ID (…): 3CAA619E", "password length: 14": what follows names something about
# the secret, not the secret.
_ABOUT_WORDS = frozenset(
    {"id", "name", "identifier", "hint", "length", "type", "policy", "file", "path", "field",
     "prompt", "format", "age", "expiry", "expiration", "history", "manager", "reset", "vault"}
)  # fmt: skip


def detect(text: str) -> Iterator[Finding | None]:
    for match in _TRIGGERED.finditer(text):
        about = match.group(1).split()
        if about and about[0].lower().strip("()") in _ABOUT_WORDS or _not_the_secret(text, match):
            continue
        yield from _value(text, match, 3, digits_ok=_is_code_trigger(match.group(0)))
    for match in _ADJACENT.finditer(text):
        if _is_the_passwd_command(text, match) or _not_the_secret(text, match):
            continue
        yield from _value(text, match, 1, digits_ok=_is_code_trigger(match.group(0)), strict=True)
    for match in _CHANGED_TO.finditer(text):
        window = text[max(0, match.start() - 160) : match.start()]
        if re.search(
            rf"(?i)(?<![\w$])(?:{_TRIGGER})(?![\w])|\b(?:admin|root|administrator)\b", window
        ):
            yield from _value(text, match, 1, digits_ok=True)
    for match in _SPELLED_OUT.finditer(text):
        window = text[max(0, match.start() - 160) : match.start()]
        if re.search(rf"(?i)(?<![\w$])(?:{_TRIGGER})(?![\w])", window):
            yield from _value(text, match, 1, digits_ok=True)
    for pattern in (_VALUE_AS_SECRET, _LOGIN_WITH):
        for match in pattern.finditer(text):
            yield from _value(text, match, 1, digits_ok=pattern is _VALUE_AS_SECRET)
    for match in _COMPACT_PAIR.finditer(text):
        value = match.group(1).rstrip(".,;:)")
        if password_shaped(value):
            yield span(text, match.start(1), match.start(1) + len(value), "password")
    for match in _CODE_IS.finditer(text):
        window = text[max(0, match.start() - 80) : match.start()]
        if _PHYSICAL.search(window):
            yield span(text, *match.span(1), "pin")
    for match in _PAIR.finditer(text):
        yield from _value(text, match, 2, digits_ok=False, strict=False, pair=True)


_QUALIFIED = re.compile(r"(?i)\b(?:partial|masked|public|last)[ \t]+$")


def _not_the_secret(text: str, match: re.Match[str]) -> bool:
    """ "Partial Product Key: 3V66T", "public key: …": a part or the public half."""
    return bool(_QUALIFIED.search(text, max(0, match.start() - 12), match.start()))


def _is_the_passwd_command(text: str, match: re.Match[str]) -> bool:
    """`passwd jdoe2` at a prompt names the user whose password changes, not a password."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    before = text[line_start : match.start()]
    command = text[match.start() : match.start() + 6] == "passwd"
    return command and (not before.strip() or before.rstrip().endswith(("$", "#", ">", "sudo")))


def _is_code_trigger(trigger_text: str) -> bool:
    lowered = trigger_text.lower()
    return any(
        w in lowered
        for w in ("pin", "puk", "cod", "cód", "passcode", "key", "pw", "pass", "combination")
    )


def _value(
    text: str,
    match: re.Match[str],
    group: int,
    *,
    digits_ok: bool,
    strict: bool = False,
    pair: bool = False,
) -> Iterator[Finding | None]:
    raw = match.group(group)
    start = match.start(group)
    if raw[:1] in "\"'“":
        close = raw.find("”" if raw[0] == "“" else raw[0], 1)
        inner = raw[1:close] if close > 0 else raw[1:]
        if not is_placeholder(inner):
            yield span(text, start + 1, start + 1 + len(inner), "password")
        return
    value = raw.rstrip(".,;:)")
    if value.endswith("?") and len(value) > 4:
        value = value[:-1]  # the end of a question, not of the value
    if token_like(value) and looks_random(value, 20) and not is_placeholder(value):
        yield span(text, start, start + len(value), "token")
        return
    if (
        value[:1] in ".,;:=([{<>/@\"'}"
        or re.search(r"[{};\[\]]", value)
        or "=" in value.rstrip("=")
    ):
        return
    if not digits_ok and (len(value) < 4 or ":" in value):
        return
    if value.endswith("!") is False and raw.endswith(")") and "(" in value:
        value = raw.rstrip(".,;:")
    if _multiword_passphrase(match, text):
        end = _phrase_end(text, start)
        yield span(text, start, end, "password")
        return
    if digits_ok and re.fullmatch(r"\d{1,3}(?:-\d{1,3}){2,5}", value):  # a combination
        yield span(text, start, start + len(value), "pin")
        return
    if digits_ok and re.fullmatch(r"[A-Za-z]{1,2}\d{3,10}|\d{3,10}[A-Za-z]", value):
        yield span(text, start, start + len(value), "pin")  # a door code: B2749
        return
    if digits_ok and re.fullmatch(r"\d{3,12}[#*]?", value):
        following = text[start + len(value) : start + len(value) + 40]
        if not UNITS.match(following) and not _digit_group_continues(following):
            yield span(text, start, start + len(value), "pin")
        elif _digit_group_continues(following):
            end = start + len(re.match(r"[\d \t]+", text[start : start + 40]).group(0).rstrip())
            yield span(text, start, end, "pin")
        return
    if looks_like_password(value, strict=strict) or pair and password_shaped(value):
        yield span(text, start, start + len(value), "password")
    elif match.re is _TRIGGERED:
        yield from _phrase(text, start)


def _phrase(text: str, start: int) -> Iterator[Finding | None]:
    """An unquoted passphrase: a few words up to a comma, dash or period, ending like a
    password ("is Blue Heron Lake 1987! - they want…")."""
    end = _phrase_end(text, start)
    words = text[start:end].split()
    if 2 <= len(words) <= 6 and looks_like_password(words[-1].rstrip(".,;:)"), strict=True):
        yield span(text, start, start + len(text[start:end].rstrip()), "password")


def _digit_group_continues(following: str) -> bool:
    return bool(re.match(r"[ \t]\d{3}(?:[ \t]\d{3})+\b", following))


def _multiword_passphrase(match: re.Match[str], text: str) -> bool:
    return "phrase" in match.group(0).lower()[:30] and match.re is _TRIGGERED


_PHRASE_STOP = re.compile(r"[,;\n]|\.(?:\s|$)| - | — ")


def _phrase_end(text: str, start: int) -> int:
    """A passphrase written without quotes runs to the next comma, period or line end
    (looked for within 80 characters: a passphrase is not longer)."""
    found = _PHRASE_STOP.search(text, start, start + 80)
    return found.start() if found else min(len(text), start + 80)
