"""Placement in cmd batch files, by a tokenizer that follows cmd's documented parsing phases.

Phase 1 expands `%...%` (even inside quotes) before phase 2 looks for quotes, so a variable
whose content is unknown may hold a `"` and flip every quote after it: a placeholder after
such an expansion in the same statement is refused (the well-known path variables and
`%~dp0` are allowed, since a path cannot hold a quote). Phase 2 toggles the quote state on
`"`, escapes the next character on `^` outside quotes, and splits commands on `& && || |` and
parenthesised blocks. Each side of a pipe, CALL, FOR /F's command, `cmd /c`, START and
`schtasks /tr` parse the text a second time, which undoes the doubling of `%` in a value: a
placeholder may not stand there, nor anywhere in a FOR statement (its variables are
substituted into the text after quoting).
"""

from __future__ import annotations

import re

from plugin.features.scripts.parameters import PLACEHOLDER
from plugin.features.scripts.placement.cmd_tokens import Command, Statement, statements
from plugin.features.scripts.placement.common import (
    ARITHMETIC,
    COMMAND_NAME,
    IN_COMMENT,
    IN_STRING,
    NOT_A_VALUE,
    Occurrence,
    PlaceholderType,
    Placement,
    adjacent_problem,
    substitute,
    words,
)

_DELAYED_EXPANSION = re.compile(
    r"enabledelayedexpansion|\bcmd(?:\.exe)?\b[^\r\n]*[ \t]/v(?::on)?\b", re.IGNORECASE
)
REPARSING = words(
    "call cmd start powershell pwsh wmic runas psexec at forfiles mshta rundll32 regsvr32 "
    "wscript cscript bash wsl"
)
_PLAIN_PREFIX = re.compile(r"[A-Za-z0-9_:./\\+-]*")
REPARSED = "must not stand where cmd parses the text a second time ({})"


def _stand_in(type_: PlaceholderType, width: int) -> str:
    if type_ in ("integer", "boolean"):
        return "1" * width
    return '"' + "f" * (width - 2) + '"'


def check(body: str, types: dict[str, PlaceholderType]) -> Placement:
    placement = Placement()
    if not PLACEHOLDER.search(body):
        return placement
    if _DELAYED_EXPANSION.search(body):
        placement.problems["body"] = (
            "a cmd template with parameters must not enable delayed expansion "
            "(values could then be expanded)"
        )
    text, occurrences = substitute(body, types, _stand_in)
    parsed = statements(text, assigned=_assigned_variables(body))
    for occurrence in occurrences:
        statement = next(s for s in parsed if s.start <= occurrence.start < s.end)
        why = adjacent_problem(body, occurrence, "^", "%!") or _problem(statement, occurrence)
        if why:
            placement.refuse(occurrence.name, occurrence.line, why)
    return placement


def _assigned_variables(body: str) -> set[str]:
    """Variables the script sets itself: their content is the template's, not a known path."""
    found = re.findall(r"\bset\s+(?:/[ap]\s+)?\"?([^=\s\"]+)=", body, re.IGNORECASE)
    return {name.lower() for name in found}


def _problem(statement: Statement, occ: Occurrence) -> str | None:
    if statement.comment:
        return IN_COMMENT
    if statement.unknown_from is not None and statement.unknown_from < occ.start:
        return (
            "must not follow a variable expansion in the same statement: its content, known "
            "only at run time, may hold a quote that turns the value into code"
        )
    if statement.piped:
        return REPARSED.format("each side of a pipe runs in a new cmd")
    if statement.for_start is not None and statement.for_start < occ.start:
        return (
            "must not be inside a FOR statement (FOR substitutes its variables into the value, "
            "and FOR /F runs its command in a second cmd)"
        )
    command = next((c for c in statement.commands if c.contains(occ.start)), None)
    if command is None:
        return NOT_A_VALUE
    words = [t.text.lower() for t in command.tokens]
    if command.name == "set" and len(words) > 1 and words[1] == "/a":
        return ARITHMETIC if occ.textual else None  # SET /A reads its text as arithmetic
    return _token_problem(command, occ) or _command_problem(command, occ)


def _token_problem(command: Command, occ: Occurrence) -> str | None:
    token = next(t for t in command.tokens if t.start <= occ.start < t.end)
    if token.quoted_at.get(occ.start, False):
        return IN_STRING
    if token.escaped_at.get(occ.start, False):
        return "must not follow an escape character (^)"
    if token.end != occ.end:
        return NOT_A_VALUE
    prefix = token.text[: occ.start - token.start]
    if prefix.endswith(("%", "!")):
        return "must not directly follow % or !"
    if not _PLAIN_PREFIX.fullmatch(prefix):
        return NOT_A_VALUE
    if token is command.tokens[0]:
        return COMMAND_NAME
    if token.redirect_target:
        return "must not be the target of a redirection"
    return None


def _command_problem(command: Command, occ: Occurrence) -> str | None:
    name = command.name
    if name == "rem":
        return IN_COMMENT
    if name in REPARSING:
        return REPARSED.format(f"{name.upper()} runs or parses its arguments again")
    if name == "goto":
        return "must not be a GOTO label"
    words = [t.text.lower() for t in command.tokens]
    index = next(i for i, t in enumerate(command.tokens) if t.start <= occ.start < t.end)
    if name == "schtasks" and "/tr" in words[:index]:
        return REPARSED.format("the command of schtasks /tr runs later in its own cmd")
    return None
