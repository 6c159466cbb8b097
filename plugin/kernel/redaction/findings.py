"""A secret found in a text: where it is and what kind it is (never the value itself, so
findings can be logged, shown and stored)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

REDACTED = "[REDACTED]"  # what a redacted value or secret reads as, everywhere


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    kind: str  # password | token | api_key | private_key | recovery_code | pin | signature


def finding(match: re.Match[str], group: int | str, kind: str) -> Finding | None:
    """The span of `group` in `match`, without surrounding quotes; None when empty."""
    start, end = match.span(group)
    return span(match.string, start, end, kind)


def span(text: str, start: int, end: int, kind: str) -> Finding | None:
    if start < 0 or end <= start:
        return None
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    value = text[start:end]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        start, end = start + 1, end - 1
    if end - start < 3 or text[start:end] == REDACTED:
        return None
    return Finding(start, end, kind)


def merged(findings: Iterable[Finding | None]) -> list[Finding]:
    """Non-overlapping findings in text order; overlapping ones become one (the first kind)."""
    out: list[Finding] = []
    for current in sorted(f for f in findings if f is not None):
        if out and current.start <= out[-1].end:
            last = out[-1]
            out[-1] = Finding(last.start, max(last.end, current.end), last.kind)
        else:
            out.append(current)
    return out


def apply(text: str, findings: list[Finding]) -> str:
    """`text` with every finding replaced by [REDACTED]."""
    return "".join(_pieces(text, findings))


def _pieces(text: str, findings: list[Finding]) -> Iterator[str]:
    position = 0
    for found in findings:
        yield text[position : found.start]
        yield REDACTED
        position = found.end
    yield text[position:]
