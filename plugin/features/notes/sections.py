"""The fixed section structure of the two documents, and the check an LLM answer must pass.

Only `#` and `##` headings count as top level; `###` and deeper belong to the section above
them. Lines inside fenced code blocks are never headings (a PowerShell `# comment` is code).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

RESOLUTION_HEADINGS = ["Problem", "What we confirmed", "Root cause", "Resolution"]
# A customer note leaves out what it has nothing to say in, rather than saying "none".
RESOLUTION_OPTIONAL = frozenset({"What we confirmed"})
ESCALATION_HEADINGS = [
    "Problem",
    "What we've confirmed",
    "What we've tried",
    "Current hypothesis",
    "Suggested next steps",
]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_TOP_LEVEL_HEADING = re.compile(r"^ {0,3}(#{1,2})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def check_sections(
    markdown: str, headings: Sequence[str], optional: Collection[str] = ()
) -> list[str]:
    """What is wrong with the document's structure; an empty list means it is acceptable.

    Headings match ignoring case, curly apostrophes, emphasis and a trailing colon; pass the
    text through `normalise(markdown, headings)` to make them exact. An `optional` heading
    may be left out, but when present it has content like any other.
    """
    lines = markdown.splitlines()
    if not markdown.strip():
        return ["the answer is empty"]
    wanted = {_heading_key(h): h for h in headings}
    found = _top_level_headings(lines)
    problems: list[str] = []

    first_heading_line = found[0][0] if found else len(lines)
    if any(line.strip() for line in lines[:first_heading_line]):
        problems.append(
            f"there is text before the first heading: start directly with '## {headings[0]}'"
        )

    seen: list[str] = []
    section_starts: dict[str, int] = {}
    for index, (_, level, text) in enumerate(found):
        heading = wanted.get(_heading_key(text))
        if heading is None or level != 2:
            problems.append(
                f"extra top-level heading '{'#' * level} {_clip(text)}': "
                "only the required headings may appear at top level"
            )
        elif heading in seen:
            problems.append(f"heading '## {heading}' appears more than once")
        else:
            seen.append(heading)
            section_starts[heading] = index

    problems.extend(
        f"missing heading '## {h}'" for h in headings if h not in seen and h not in optional
    )

    in_required_order = [h for h in headings if h in seen]
    if seen != in_required_order:
        problems.append(
            "headings are out of order: found "
            + ", ".join(f"'## {h}'" for h in seen)
            + "; the required order is "
            + ", ".join(f"'## {h}'" for h in headings)
        )

    for heading in in_required_order:
        index = section_starts[heading]
        body_start = found[index][0] + 1
        body_end = found[index + 1][0] if index + 1 < len(found) else len(lines)
        if not any(line.strip() for line in lines[body_start:body_end]):
            problems.append(f"section '## {heading}' is empty")
    return problems


def normalise(markdown: str, headings: Sequence[str] | None = None) -> str:
    """Tidy an answer: unwrap a code fence around the whole of it, drop trailing spaces,
    leave exactly one blank line around each top-level heading and no runs of blank lines
    outside code blocks. With `headings`, a `#`/`##` heading that matches one of them
    (loosely, as in `check_sections`) is rewritten to exactly `## <heading>`.
    """
    lines = [line.rstrip() for line in _unwrap_fence(markdown.strip()).splitlines()]
    canonical = {_heading_key(h): h for h in headings or []}
    out: list[str] = []
    for line, outside in zip(lines, _outside_fence_flags(lines), strict=True):
        if outside:
            match = _TOP_LEVEL_HEADING.match(line)
            if match:
                heading = canonical.get(_heading_key(_heading_text(match)))
                if heading is not None:
                    line = f"## {heading}"
                while out and not out[-1]:
                    out.pop()
                if out:
                    out.append("")
                out.extend([line, ""])
                continue
            if not line and (not out or not out[-1]):
                continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def drop_empty_sections(markdown: str, headings: Collection[str]) -> str:
    """`markdown` without those of `headings` whose section has nothing in it."""
    lines = markdown.splitlines()
    wanted = {_heading_key(h) for h in headings}
    found = _top_level_headings(lines)
    dropped: set[int] = set()
    for index, (line_no, _, text) in enumerate(found):
        end = found[index + 1][0] if index + 1 < len(found) else len(lines)
        body = lines[line_no + 1 : end]
        if _heading_key(text) in wanted and not any(line.strip() for line in body):
            dropped.update(range(line_no, end))
    return "\n".join(line for n, line in enumerate(lines) if n not in dropped) + "\n"


def _top_level_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line number, level, text) of every `#`/`##` heading outside code blocks."""
    found = []
    for line_no, (line, outside) in enumerate(zip(lines, _outside_fence_flags(lines), strict=True)):
        match = _TOP_LEVEL_HEADING.match(line) if outside else None
        if match:
            found.append((line_no, len(match.group(1)), _heading_text(match)))
    return found


def _outside_fence_flags(lines: list[str]) -> list[bool]:
    """For each line, whether it is ordinary markdown (not a fence line nor code inside one).

    Follows CommonMark: a fence closes with the same character, at least as long, and no
    info string; an unclosed fence runs to the end.
    """
    flags = []
    fence: tuple[str, int] | None = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None:
            opens = match is not None and not (match.group(1)[0] == "`" and "`" in match.group(2))
            if opens:
                fence = (match.group(1)[0], len(match.group(1)))
            flags.append(not opens)
        else:
            if (
                match is not None
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= fence[1]
                and not match.group(2).strip()
            ):
                fence = None
            flags.append(False)
    return flags


def _unwrap_fence(text: str) -> str:
    """Remove a ```markdown … ``` (or bare ```) fence wrapped around the whole answer."""
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    opening, closing = _FENCE.match(lines[0]), _FENCE.match(lines[-1])
    if (
        opening is not None
        and closing is not None
        and opening.group(2).strip().lower() in ("", "markdown", "md")
        and closing.group(1)[0] == opening.group(1)[0]
        and len(closing.group(1)) >= len(opening.group(1))
        and not closing.group(2).strip()
    ):
        return "\n".join(lines[1:-1]).strip()
    return text


def _heading_text(match: re.Match[str]) -> str:
    return _CLOSING_HASHES.sub("", match.group(2) or "").strip()


def _heading_key(text: str) -> str:
    # Loose on purpose: "**What we’ve tried:**" is the heading "What we've tried".
    text = " ".join(text.translate(_APOSTROPHES).split())
    for _ in range(2):
        text = text.strip("*_ ").rstrip(":")
    return text.casefold()


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
