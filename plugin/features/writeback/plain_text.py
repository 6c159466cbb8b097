"""Markdown as plain text, for PSAs whose notes show text as it is (ConnectWise notes are not
known to render Markdown): headings become plain lines, list markers bullets, emphasis and
code markers go, links show their address. The engineer keeps editing Markdown; only what is
posted is converted (unless the account says its site renders Markdown)."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_EMPHASIS = re.compile(
    r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\3(?![\w*])"
)
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")


def markdown_to_plain(markdown: str) -> str:
    lines: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            lines.append("    " + line)
            continue
        heading = _HEADING.match(line)
        if heading:
            lines.append(_inline(heading.group(1)))
            continue
        lines.append(_inline(_BULLET.sub(lambda m: m.group(1) + "• ", line)))
    return "\n".join(lines).strip()


def _inline(text: str) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _CODE.sub(r"\1", text)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(4), text)
    return _ESCAPE.sub(r"\1", text)
