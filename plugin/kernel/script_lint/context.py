"""Rules that need more than one statement: a file downloaded (or decoded) and then run, a
recursive delete of a path built from a variable nobody set, a loop over every account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from plugin.kernel.script_lint.rules import H, Rule, Scope, rx
from plugin.kernel.script_lint.text import Piece

DOWNLOADED_THEN_RUN = Rule(
    "downloaded_then_run",
    "download_execute",
    H,
    rx("(?!)"),
    "Runs a file this script downloaded (or decoded) without checking its hash or signature.",
)
UNSET_VARIABLE_DELETE = Rule(
    "unset_variable_delete",
    "data_destruction",
    H,
    rx("(?!)"),
    "Deletes recursively under a path built from a variable this script never sets: if it is "
    "empty (or misspelled), the delete starts at the root of the drive.",
)
EVERY_ACCOUNT_LOOP = Rule(
    "every_account_loop",
    "wildcard_mass_change",
    H,
    rx("(?!)"),
    "Changes every account or service in a loop over all of them.",
    scope=Scope.BLOCK,
)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    line: int


# Where a download or a decode writes its file: the destination expression.
_DESTINATIONS = [
    rx(r"-outfile\s+(\S+)"),
    rx(r"-destination\s+(\S+)"),
    rx(r"\.downloadfile\s*\([^,]+,\s*([^)]+)\)"),
    rx(r"\bcurl(?:\.exe)?\b[^\n]*?\s(?:-o|--output|-\w*o)\s+(\S+)"),
    rx(r"\bwget\b[^\n]*?\s-\w*O\s+(\S+)"),
    rx(r"\bbitsadmin\b[^\n]*/transfer\b[^\n]*\s(\S+)\s*$"),
    rx(r"\bcertutil(?:\.exe)?\b[^\n]*-(?:urlcache|decode)\b[^\n]*\s(\S+)\s*(?:>|$)"),
    rx(r"base64\s+(?:-d|--decode)[^\n>]*>\s*(\S+)"),
    rx(r"writeallbytes\s*\(\s*([^,]+),"),
]
_VERIFIED = rx(
    r"get-filehash|get-authenticodesignature|sha256sum|sha512sum|shasum|gpg\s+--verify"
    r"|certutil[^\n]*-hashfile|signtool\s+verify|\bcosign\s+verify"
)
_RUNS = (
    r"(?:^|[;&|(]|(?:\b(?:start-process|saps|start(?:\s+\"\")?|msiexec\b[^\n]*/i|sh|bash|call)"
    r"|-execute|/tr)\s+(?:-filepath\s+)?|[.&]\s+)"
)


def _name_of(destination: str) -> str:
    """What identifies a destination: its variable name, or its file name."""
    text = destination.strip("'\"()` ")
    if re.fullmatch(r"\$[\w:]+", text):
        return text.lower()
    return re.split(r"[\\/]", text)[-1].lower()


def _commands(lines: list[Piece]) -> Iterator[Piece]:
    """Each command of each line, in order (`a && b; c` is three)."""
    for piece in lines:
        start = 0
        for separator in re.finditer(r"&&|\|\||;|(?<![>&])&(?![>&])", piece.text):
            yield _slice(piece, start, separator.start())
            start = separator.end()
        yield _slice(piece, start, len(piece.text))


def _slice(piece: Piece, start: int, end: int) -> Piece:
    return Piece(piece.text[start:end], piece.origin[start:end], piece.source)


def downloaded_then_run(source: str, lines: list[Piece]) -> Iterator[Hit]:
    if _VERIFIED.search(source):
        return
    names: set[str] = set()
    for piece in _commands(lines):
        if not piece.text.strip():
            continue
        for name in sorted(names):
            pattern = re.escape(name) + (r"\b" if name[-1].isalnum() else "")
            runs = re.search(_RUNS + r"\s*['\"]?[^\s'\"]*?" + pattern, piece.text, re.I)
            starts = re.match(r"\s*['\"]?[^\s'\"]*" + pattern + r"['\"]?(?:\s|$)", piece.text, re.I)
            if (runs or starts) and not _is_download(piece.text):
                yield Hit(DOWNLOADED_THEN_RUN, piece.line_at((runs or starts).start()))
                return
        if _is_download(piece.text) or re.search(r"-decode|base64\s+-d", piece.text, re.I):
            text = re.sub(r"\d?>>?\s*&?\S+", "", piece.text)  # redirections are not the file
            for pattern in _DESTINATIONS:
                for match in pattern.finditer(text):
                    name = _name_of(match.group(1))
                    if name and name not in ("-", "/dev/null", "$null"):
                        names.add(name)


def _is_download(text: str) -> bool:
    return bool(
        re.search(
            r"downloadfile|invoke-webrequest|\biwr\b|start-bitstransfer|bitsadmin|\bcurl\b"
            r"|\bwget\b|certutil[^\n]*-urlcache|writeallbytes",
            text,
            re.I,
        )
    )


_DELETE_UNDER_VARIABLE = [
    # PowerShell: Remove-Item "$Var\*" -Recurse
    (rx(r"\b(?:remove-item|ri|rm|del)\b[^\n]*?['\"\s]\$(\w+)[\\/]\*?[^\n]*-r"), "ps"),
    (rx(r"\b(?:remove-item|ri|rm|del)\b[^\n]*-r[^\n]*?['\"\s]\$(\w+)[\\/]"), "ps"),
    # bash: rm -rf "$VAR/"* (without the ${VAR:?} guard)
    (rx(r"\brm\s+-\w*r\w*\b[^\n]*?['\"\s]\$\{?(\w+)\}?/?['\"]?/?\*?(?=['\"\s]|$)"), "sh"),
    # cmd: rd /s /q "%VAR%\"
    (rx(r"\b(?:rd|rmdir|del)\b[^\n]*/s\b[^\n]*?['\"\s]%(\w+)%\\?['\"]?(?:\s|$)"), "cmd"),
]
_KNOWN_VARIABLES = {
    "env",
    "_",
    "psscriptroot",
    "home",
    "pwd",
    "temp",
    "tmp",
    "systemroot",
    "windir",
    "userprofile",
    "localappdata",
    "appdata",
    "programdata",
    "tmpdir",
}


def unset_variable_delete(source: str, lines: list[Piece]) -> Iterator[Hit]:
    for piece in lines:
        for pattern, dialect in _DELETE_UNDER_VARIABLE:
            match = pattern.search(piece.text)
            if not match:
                continue
            name = match.group(1).lower()
            if name in _KNOWN_VARIABLES or _is_set(source, name, dialect):
                continue
            if dialect == "sh" and re.search(r"\$\{" + name + r":\?", piece.text, re.I):
                continue
            yield Hit(UNSET_VARIABLE_DELETE, piece.line_at(match.start()))
            break


def _is_set(source: str, name: str, dialect: str) -> bool:
    patterns = {
        "ps": r"\$" + name + r"\s*=|foreach\s*\(\s*\$" + name + r"\s+in|param\s*\([^)]*\$" + name,
        "sh": r"(?:^|[\s;(])" + name + r"=|\bfor\s+" + name + r"\s+in|\bread\b[^\n]*\b" + name,
        "cmd": r"\bset\s+(?:/[ap]\s+)?['\"]?" + name + r"=",
    }
    return re.search(patterns[dialect], source, re.I | re.M) is not None


_EVERY_ACCOUNT = rx(
    r"\bfor\b[^\n]*(?:/etc/passwd|getent\s+passwd|\blvs\b|\bwmic\s+(?:service|useraccount)\b"
    r"|['(]\s*net\s+user\b|['(]\s*sc\s+query\b|\busers\b\s*\)|compgen\s+-u)"
)
_CHANGES_EACH = rx(
    r"\b(?:usermod|userdel|passwd\s+-[ld]|chage|pkill|killall|deluser|chsh|sc\s+(?:config|delete|stop)"
    r"|net\s+user\b[^\n]*/(?:active:no|delete)|lvremove|systemctl\s+(?:stop|disable|mask))\b"
)


def every_account_loop(source: str, blocks: list[Piece]) -> Iterator[Hit]:
    for piece in blocks:
        if _EVERY_ACCOUNT.search(piece.text):
            change = _CHANGES_EACH.search(piece.text)
            if change:
                yield Hit(EVERY_ACCOUNT_LOOP, piece.line_at(change.start()))
