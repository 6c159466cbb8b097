"""Scripts as the lint reads them: logical lines (continuations joined) and blocks, with the
obfuscation shells ignore (cmd's carets, PowerShell's backticks inside words) taken out.

Every piece keeps a map back to the original text, so a finding names the line an engineer
sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A line continued on the next: PowerShell's backtick, bash's backslash, cmd's caret, or a
# pipe, `&&`, `||` or `,` left at the end; or the next line starts with a pipe.
_CONTINUED = re.compile(r"(?:[`\\^]|\||&&|\|\||,)[ \t]*\r?$")
_LEADING_PIPE = re.compile(r"^[ \t]*\|(?!\|)")
# `p^o^w^e^r^s^h^e^l^l`, `i`e`x`: escapes before ordinary letters change nothing to the shell.
_NOISE = re.compile(r"(?<=[A-Za-z0-9])[\^`](?=[A-Za-z0-9])")
_OPENERS, _CLOSERS = "({[", ")}]"


@dataclass(frozen=True)
class Piece:
    """A stretch of the script: its text with noise removed, and where each char came from."""

    text: str
    origin: list[int]
    source: str

    def line_at(self, index: int) -> int:
        """The 1-based line of the script where the character at `index` of `text` is."""
        position = self.origin[min(index, len(self.origin) - 1)] if self.origin else 0
        return self.source.count("\n", 0, position) + 1


def _piece(source: str, start: int, end: int, *, join: bool = False) -> Piece:
    """The text of [start, end); with `join`, its line breaks read as spaces (one command)."""
    raw = source[start:end]
    kept = [i for i in range(len(raw)) if not _NOISE.match(raw, i)]
    text = "".join(" " if join and raw[i] == "\n" else raw[i] for i in kept)
    return Piece(text=text, origin=[start + i for i in kept], source=source)


def _line_spans(source: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for index, ch in enumerate(source):
        if ch == "\n":
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(source)))
    return spans


_COMMENT_LINE = re.compile(r"[ \t]*(?:#|@?rem(?:[ \t]|$)|::)", re.IGNORECASE)
_BLOCK_COMMENT = re.compile(r"<#[\s\S]*?#>")


def _without_comments(source: str) -> str:
    """The source with comments blanked out (same length): they describe, they do not run."""
    chars = list(source)
    for match in _BLOCK_COMMENT.finditer(source):
        for i in range(match.start(), match.end()):
            if chars[i] != "\n":
                chars[i] = " "
    text = "".join(chars)
    lines = text.split("\n")
    return "\n".join(" " * len(line) if _COMMENT_LINE.match(line) else line for line in lines)


def logical_lines(source: str) -> list[Piece]:
    """Lines with their continuations joined (read as one line, mapped to the originals)."""
    source = _without_comments(source)
    spans = _line_spans(source)
    pieces: list[Piece] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        while i + 1 < len(spans) and (
            _CONTINUED.search(source[spans[i][0] : spans[i][1]])
            or _LEADING_PIPE.match(source, spans[i + 1][0])
        ):
            i += 1
            end = spans[i][1]
        pieces.append(_piece(source, start, end, join=True))
        i += 1
    return pieces


def blocks(source: str) -> list[Piece]:
    """Statements with their bracketed blocks and shell loops: a `ForEach-Object { ... }` over
    several lines, a `for ...; do ... done`, a cmd `( ... )`, read as one."""
    lines = logical_lines(source)
    source = _without_comments(source)
    pieces: list[Piece] = []
    i = 0
    while i < len(lines):
        j, depth = i, _depth(lines[i].text)
        while depth > 0 and j + 1 < len(lines):
            j += 1
            depth += _depth(lines[j].text)
        start = lines[i].origin[0] if lines[i].origin else 0
        last = lines[j]
        end = (last.origin[-1] + 1) if last.origin else start
        pieces.append(_piece(source, start, end))
        i = j + 1
    return pieces


_SHELL_OPEN = re.compile(r"(?:^|[;\s])(?:do|then)(?=\s|$)")
_SHELL_CLOSE = re.compile(r"(?:^|[;\s])(?:done|fi)(?=\s|;|$)")
_STRING = re.compile(r"'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\"")


def _depth(text: str) -> int:
    code = _STRING.sub("''", text)
    code = re.sub(r"(?m)(?:^|\s)#.*$", "", code)
    depth = sum(code.count(ch) for ch in _OPENERS) - sum(code.count(ch) for ch in _CLOSERS)
    depth += len(_SHELL_OPEN.findall(code)) - len(_SHELL_CLOSE.findall(code))
    return depth
