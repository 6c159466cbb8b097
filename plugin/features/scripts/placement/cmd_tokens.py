"""A tokenizer of cmd batch text, phase by phase, enough to tell where a placeholder stands.

Phase 1 (percent expansion) is found first, then phase 2 reads quotes, escapes, command
separators, redirections and parenthesised blocks. A statement is what cmd reads as one: a
line, its `^` continuations, and every line of a block opened on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plugin.features.scripts.placement.common import words

# Variables whose value is a path or a number (no quote can be in them), when the script
# does not set them itself.
SAFE_VARIABLES = words(
    """systemroot windir systemdrive programfiles programfiles(x86) programw6432 programdata
    commonprogramfiles temp tmp userprofile appdata localappdata public allusersprofile
    homedrive homepath computername username userdomain errorlevel cd date time random
    number_of_processors processor_architecture os"""
)
_PERCENT = re.compile(
    r"%%"  # a literal percent
    r"|%~[a-z$:]*[0-9]"  # %~dp0 and other modified arguments
    r"|%[0-9*]"  # a batch argument
    r"|%([^%\r\n:]+)(?::([^%\r\n]*))?%"  # %name% and %name:~1,2% / %name:a=b%
    r"|%",  # a lone percent (removed)
    re.IGNORECASE,
)
_COMMAND_NAME = re.compile(r"@*\s*([a-z0-9_.\\/:$-]+?)(?=$|[^a-z0-9_-])", re.IGNORECASE)
_IF_TESTS = frozenset(["errorlevel", "exist", "defined", "cmdextversion"])
_IF_OPERATORS = words("equ neq lss leq gtr geq")


@dataclass
class Token:
    start: int
    end: int = -1
    text: str = ""
    redirect_target: bool = False
    quoted_at: dict[int, bool] = field(default_factory=dict)
    escaped_at: dict[int, bool] = field(default_factory=dict)


@dataclass
class Command:
    tokens: list[Token] = field(default_factory=list)

    @property
    def name(self) -> str:
        if not self.tokens:
            return ""
        match = _COMMAND_NAME.match(self.tokens[0].text)
        word = match.group(1).lower() if match else ""
        return re.split(r"[\\/]", word)[-1].removesuffix(".exe") if "\\" in word else word

    def contains(self, index: int) -> bool:
        return any(t.start <= index < t.end for t in self.tokens)

    def opens_block(self) -> bool:
        """Whether a `(` here opens a block: at a command's start, or where a command goes."""
        words = [t.text.lower() for t in self.tokens]
        return not words or words[-1] in ("do", "else", "in") or self.if_condition_done()

    def if_condition_done(self) -> bool:
        words = [t.text.lower() for t in self.tokens]
        if not words or words[0] != "if":
            return False
        rest = words[1:]
        while rest and rest[0] in ("/i", "not"):
            rest = rest[1:]
        if rest and rest[0] in _IF_TESTS:
            return len(rest) >= 2
        if len(rest) >= 2 and rest[1] in _IF_OPERATORS:
            return len(rest) >= 3
        return len(rest) >= 2


@dataclass
class Statement:
    start: int
    end: int = -1
    commands: list[Command] = field(default_factory=list)
    piped: bool = False
    comment: bool = False
    for_start: int | None = None
    unknown_from: int | None = None


def expansions(text: str, assigned: set[str]) -> dict[int, tuple[int, bool]]:
    """Phase 1: start → (end, whether its content can hold no quote)."""
    found: dict[int, tuple[int, bool]] = {}
    for match in _PERCENT.finditer(text):
        whole = match.group(0)
        if whole == "%%":
            safe = True
        elif whole.startswith("%~"):
            safe = whole.endswith("0")
        elif match.group(1):
            name, operation = match.group(1).lower(), match.group(2)
            safe = name in SAFE_VARIABLES and name not in assigned
            if operation is not None and not operation.startswith("~"):
                safe = safe and '"' not in operation
        else:
            safe = whole == "%"
        found[match.start()] = (match.end(), safe)
    return found


def statements(text: str, *, assigned: set[str]) -> list[Statement]:
    reader = _Reader(text, expansions(text, assigned))
    return reader.read()


class _Reader:
    """Phase 2 over the whole text, statement by statement."""

    def __init__(self, text: str, percent: dict[int, tuple[int, bool]]) -> None:
        self.text, self.percent = text, percent
        self.found: list[Statement] = []
        self.pending_redirect = False
        self.statement = Statement(start=0)
        self.command = Command()
        self.token: Token | None = None

    def read(self) -> list[Statement]:
        i = 0
        while i < len(self.text):
            i = self._statement(i)
        return self.found

    def _statement(self, i: int) -> int:
        text = self.text
        self.statement = statement = Statement(start=i)
        self.found.append(statement)
        line_end = text.find("\n", i)
        line = text[i : len(text) if line_end < 0 else line_end]
        if line.lstrip(" \t@").startswith(":"):
            statement.comment = True  # a label, or a `::` comment
            statement.end = i + len(line) + 1
            return statement.end
        self._new_command()
        quoted, depth = False, 0
        while i < len(text):
            if i in self.percent:
                end, safe = self.percent[i]
                if not safe and statement.unknown_from is None:
                    statement.unknown_from = i
                self._open(i).quoted_at[i] = quoted
                i = end
                continue
            ch = text[i]
            if self.token is not None or ch not in " \t,;=\r\n&|<>()":
                self._open(i).quoted_at.setdefault(i, quoted)
            if quoted:
                if ch == "\n":  # a line break ends a quote; what follows is uncertain
                    statement.unknown_from = statement.unknown_from or i
                    quoted = False
                    continue
                quoted = ch != '"'
                i += 1
            elif ch == "^":
                i = self._escape(i)
            elif ch == '"':
                quoted = True
                i += 1
            elif ch in " \t,;=\r":
                self._close(i)
                i += 1
            elif ch == "\n" and depth == 0:
                self._close(i)
                statement.end = i + 1
                return self._finish(statement)
            elif ch == "\n" or ch in "&|<>()":
                self._close(i)
                i, depth = self._operator(i, depth)
            else:
                i += 1
        self._close(len(text))
        statement.end = len(text)
        return self._finish(statement)

    def _escape(self, i: int) -> int:
        """A caret escapes the next character; before a line break it joins the next line
        and escapes that line's first character."""
        token, text = self._open(i), self.text
        escaped = i + 1
        if text.startswith("\r\n", escaped):
            escaped += 2
        elif text.startswith("\n", escaped):
            escaped += 1
        token.escaped_at[escaped] = True
        return escaped + 1

    def _operator(self, i: int, depth: int) -> tuple[int, int]:
        text, ch = self.text, self.text[i]
        if ch in "<>":
            end = i + 1
            while end < len(text) and text[end] in ">&0123456789":
                end += 1
            self.pending_redirect = True
            return end, depth
        if ch == "(" and not self.command.opens_block():
            self._open(i)
            self._close(i + 1)
            return i + 1, depth
        if ch == "|" and text[i : i + 2] != "||":
            self.statement.piped = True
        step = 2 if text[i : i + 2] in ("&&", "||") else 1
        depth = max(0, depth + {"(": 1, ")": -1}.get(ch, 0))
        self._new_command()
        return i + step, depth

    def _new_command(self) -> None:
        self.command = Command()
        self.statement.commands.append(self.command)

    def _open(self, i: int) -> Token:
        """The token at i, starting one (and a new command where IF, DO or ELSE ends)."""
        if self.token is not None:
            return self.token
        command = self.command
        if command.if_condition_done() or (
            command.tokens and command.tokens[-1].text.lower() in ("do", "else")
        ):
            self._new_command()
        self.token = Token(start=i, redirect_target=self.pending_redirect)
        self.pending_redirect = False
        self.command.tokens.append(self.token)
        return self.token

    def _close(self, i: int) -> None:
        token = self.token
        if token is not None:
            token.end = i
            token.text = self.text[token.start : i]
        self.token = None

    def _finish(self, statement: Statement) -> int:
        statement.commands = [c for c in statement.commands if c.tokens]
        for command in statement.commands:
            if command.name == "for" and statement.for_start is None:
                statement.for_start = command.tokens[0].start
        first = statement.commands[0] if statement.commands else None
        statement.comment = statement.comment or (first is not None and first.name == "rem")
        return statement.end
