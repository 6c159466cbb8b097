"""Where a placeholder may stand in a template: scanners per language that find the
placeholders a quoted literal would not keep inert (inside strings, comments, heredocs,
after an escape, on lines cmd parses twice)."""

from __future__ import annotations

import re
from collections.abc import Callable

from plugin.features.scripts.parameters import PLACEHOLDER, Language

PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
PS_DOUBLE_QUOTES = '"\u201c\u201d\u201e'


_IN_STRING = "must be a whole argument, not inside a quoted string"
_IN_COMMENT = "must not be inside a comment"
_ESCAPED = "must not follow an escape character"
_GLUED = "must not directly follow $, @, % or !"
_REPARSED = "must not be used on a CALL or FOR /F line (cmd parses it twice)"


class _Scan:
    """Shared bookkeeping of the per-language scanners: verdicts per placeholder name."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.problems: dict[str, str] = {}

    def placeholder_at(self, i: int) -> re.Match[str] | None:
        return PLACEHOLDER.match(self.body, i)

    def flag_span(self, start: int, end: int, problem: str) -> None:
        """Flag every placeholder that starts inside [start, end), even if it runs past end."""
        for match in PLACEHOLDER.finditer(self.body, start):
            if match.start() >= end:
                break
            self.problems.setdefault(match.group(1), problem)

    def flag(self, match: re.Match[str], problem: str) -> None:
        self.problems.setdefault(match.group(1), problem)

    def line_end(self, i: int) -> int:
        end = self.body.find("\n", i)
        return len(self.body) if end < 0 else end


def unsafe_placeholders(body: str, language: Language) -> dict[str, str]:
    """Placeholders standing where a quoted literal would not be inert: name → why."""
    scanners: dict[str, Callable[[str], dict[str, str]]] = {
        "powershell": _powershell_problems,
        "bash": _bash_problems,
        "cmd": _cmd_problems,
    }
    return scanners[language](body)


# PowerShell ---------------------------------------------------------------------------------

# `#` starts a comment at the start of a token; inside a bare word (a#b) it is text.
_PS_COMMENT_BEFORE = set(" \t\r\n;(){}|&,=" + PS_SINGLE_QUOTES + PS_DOUBLE_QUOTES)


def _powershell_problems(body: str) -> dict[str, str]:
    scan = _Scan(body)
    _ps_code(scan, 0, nested=False)
    return scan.problems


def _ps_code(scan: _Scan, i: int, *, nested: bool) -> int:
    """Scan code from i; nested code (a `$( )` in a string) returns after its closing `)`."""
    body, n, depth = scan.body, len(scan.body), 0
    while i < n:
        if not nested and (match := scan.placeholder_at(i)):
            if i > 0 and body[i - 1] in "$@":
                scan.flag(match, _GLUED)
            i = match.end()
            continue
        ch = body[i]
        if ch == "`":
            if not nested and (match := scan.placeholder_at(i + 1)):
                scan.flag(match, _ESCAPED)
            i += 2
        elif body.startswith("<#", i):
            end = body.find("#>", i + 2)
            end = n if end < 0 else end + 2
            scan.flag_span(i, end, _IN_COMMENT)
            i = end
        elif ch == "#" and (i == 0 or body[i - 1] in _PS_COMMENT_BEFORE):
            end = scan.line_end(i)
            scan.flag_span(i, end, _IN_COMMENT)
            i = end
        elif ch == "@" and (end := _ps_here_string_end(body, i)) is not None:
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif ch in PS_SINGLE_QUOTES:
            end = _ps_single_quoted_end(body, i + 1)
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif ch in PS_DOUBLE_QUOTES:
            end = _ps_double_quoted_end(scan, i + 1)
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif body.startswith("${", i):
            end = _ps_braced_variable_end(body, i + 2)
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif body.startswith("--%", i) and (i == 0 or body[i - 1] in " \t"):
            # Stop-parsing token: the rest of the line goes verbatim to a native program.
            end = scan.line_end(i)
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            i += 1
            if nested and depth < 0:
                return i
        else:
            i += 1
    return n


def _ps_single_quoted_end(body: str, i: int) -> int:
    n = len(body)
    while i < n:
        if body[i] in PS_SINGLE_QUOTES:
            if i + 1 < n and body[i + 1] in PS_SINGLE_QUOTES:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _ps_double_quoted_end(scan: _Scan, i: int) -> int:
    body, n = scan.body, len(scan.body)
    while i < n:
        ch = body[i]
        if ch == "`":
            i += 2
        elif ch in PS_DOUBLE_QUOTES:
            if i + 1 < n and body[i + 1] in PS_DOUBLE_QUOTES:
                i += 2
                continue
            return i + 1
        elif body.startswith("$(", i):
            i = _ps_code(scan, i + 2, nested=True)
        else:
            i += 1
    return n


_PS_HERE_START = re.compile(rf"@([{PS_SINGLE_QUOTES}{PS_DOUBLE_QUOTES}])[ \t]*\r?\n")


def _ps_here_string_end(body: str, i: int) -> int | None:
    start = _PS_HERE_START.match(body, i)
    if not start:
        return None
    quotes = PS_SINGLE_QUOTES if start.group(1) in PS_SINGLE_QUOTES else PS_DOUBLE_QUOTES
    end = re.compile(rf"\n[{quotes}]@").search(body, start.end() - 1)
    return len(body) if end is None else end.end()


def _ps_braced_variable_end(body: str, i: int) -> int:
    n = len(body)
    while i < n:
        if body[i] == "`":
            i += 2
        elif body[i] == "}":
            return i + 1
        else:
            i += 1
    return n


# bash ---------------------------------------------------------------------------------------

_BASH_WORD_START = set(" \t\r\n;&|()<>")
_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]*)'|\"([^\"\n]*)\"|\\?([^\s;&|<>()]+))")


def _bash_problems(body: str) -> dict[str, str]:
    scan = _Scan(body)
    _bash_code(scan, 0, nested=False)
    return scan.problems


def _bash_code(scan: _Scan, i: int, *, nested: bool) -> int:
    body, n, depth = scan.body, len(scan.body), 0
    pending_heredocs: list[tuple[str, bool]] = []
    while i < n:
        if not nested and (match := scan.placeholder_at(i)):
            if i > 0 and body[i - 1] == "$":
                scan.flag(match, _GLUED)
            i = match.end()
            continue
        ch = body[i]
        if ch == "\\":
            if not nested and (match := scan.placeholder_at(i + 1)):
                scan.flag(match, _ESCAPED)
            i += 2
        elif ch == "#" and (i == 0 or body[i - 1] in _BASH_WORD_START):
            end = scan.line_end(i)
            scan.flag_span(i, end, _IN_COMMENT)
            i = end
        elif (end := _bash_quoted_end(scan, i)) is not None:
            scan.flag_span(i, end, _IN_STRING)
            i = end
        elif body.startswith("<<", i) and not body.startswith("<<<", i):
            heredoc = _HEREDOC.match(body, i)
            if heredoc:
                delimiter = next(group for group in heredoc.groups()[1:] if group is not None)
                pending_heredocs.append((delimiter, heredoc.group(1) == "-"))
                i = heredoc.end()
            else:
                i += 2
        elif ch == "\n" and pending_heredocs:
            i = _bash_heredoc_bodies_end(scan, i + 1, pending_heredocs)
            pending_heredocs = []
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            i += 1
            if nested and depth < 0:
                return i
        else:
            i += 1
    return n


def _bash_quoted_end(scan: _Scan, i: int) -> int | None:
    """Where the quoted text (or `${...}`, or a backquoted command) starting at i ends;
    None when nothing quoted starts there."""
    body = scan.body
    if body.startswith("$'", i):
        return _bash_escaped_end(body, i + 2, "'")
    if body[i] == "'":
        end = body.find("'", i + 1)
        return len(body) if end < 0 else end + 1
    if body[i] == '"':
        return _bash_double_quoted_end(scan, i + 1)
    if body[i] == "`":
        return _bash_escaped_end(body, i + 1, "`")
    if body.startswith("${", i):
        return _bash_braced_end(body, i + 2)
    return None


def _bash_escaped_end(body: str, i: int, closing: str) -> int:
    n = len(body)
    while i < n:
        if body[i] == "\\":
            i += 2
        elif body[i] == closing:
            return i + 1
        else:
            i += 1
    return n


def _bash_double_quoted_end(scan: _Scan, i: int) -> int:
    body, n = scan.body, len(scan.body)
    while i < n:
        ch = body[i]
        if ch == "\\":
            i += 2
        elif ch == '"':
            return i + 1
        elif body.startswith("$(", i):
            i = _bash_code(scan, i + 2, nested=True)
        elif ch == "`":
            i = _bash_escaped_end(body, i + 1, "`")
        else:
            i += 1
    return n


def _bash_braced_end(body: str, i: int) -> int:
    n, depth = len(body), 0
    while i < n:
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == "{":
            depth += 1
        elif body[i] == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    return n


def _bash_heredoc_bodies_end(scan: _Scan, i: int, heredocs: list[tuple[str, bool]]) -> int:
    """Skip the here-document bodies that start at i; their text is data, not code."""
    body, n = scan.body, len(scan.body)
    start = i
    for delimiter, strip_tabs in heredocs:
        while i < n:
            end = scan.line_end(i)
            line = body[i:end].rstrip("\r")
            i = end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                break
    i = min(i, n)
    scan.flag_span(start, i, _IN_STRING)
    # Continue scanning at the newline that ended the last delimiter line.
    return max(i - 1, start)


# cmd ----------------------------------------------------------------------------------------

_CMD_COMMENT_LINE = re.compile(r"[ \t@]*(?:rem(?:[ \t].*)?$|::)", re.IGNORECASE)
_CMD_REPARSED_LINE = re.compile(r"(?:^|[\s&|(@])(?:call[ \t]|for[ \t]+/f)", re.IGNORECASE)
_CMD_DELAYED_EXPANSION = re.compile(
    r"enabledelayedexpansion|\bcmd(?:\.exe)?\b[^\r\n]*[ \t]/v(?::on)?\b", re.IGNORECASE
)


def _cmd_problems(body: str) -> dict[str, str]:
    scan = _Scan(body)
    if _CMD_DELAYED_EXPANSION.search(body) and PLACEHOLDER.search(body):
        scan.problems["body"] = (
            "a cmd template with parameters must not enable delayed expansion "
            "(values could then be expanded)"
        )
    n, i = len(body), 0
    while i < n:
        end = _cmd_logical_line_end(body, i)
        line = body[i:end]
        if _CMD_COMMENT_LINE.match(line):
            scan.flag_span(i, end, _IN_COMMENT)
        elif _CMD_REPARSED_LINE.search(line):
            scan.flag_span(i, end, _REPARSED)
        else:
            _cmd_line(scan, i, end)
        i = end + 1
    return scan.problems


def _cmd_logical_line_end(body: str, i: int) -> int:
    """End of the line starting at i; a caret before the newline continues the line."""
    n = len(body)
    while True:
        end = body.find("\n", i)
        if end < 0:
            return n
        before = end - 1 if end > 0 and body[end - 1] == "\r" else end
        if before > 0 and body[before - 1] == "^":
            i = end + 1
            continue
        return end


def _cmd_line(scan: _Scan, i: int, end: int) -> None:
    body, quoted = scan.body, False
    while i < end:
        match = scan.placeholder_at(i)
        if match and match.end() <= end:
            if quoted:
                scan.flag(match, _IN_STRING)
            elif i > 0 and body[i - 1] in "%!":
                scan.flag(match, _GLUED)
            i = match.end()
            continue
        ch = body[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "^" and not quoted:
            if match := scan.placeholder_at(i + 1):
                scan.flag(match, _ESCAPED)
            i += 1
        i += 1
