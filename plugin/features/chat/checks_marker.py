"""The ``[CHECKS]`` block: short diagnostic checks the assistant proposes for the engineer to
tick off with a result (each result becomes a fact).

The block's JSON is a list of checks, or an object with a "checks" list; a check is a string
or an object with a "text" string. Blank and repeated checks are dropped, each is cut to
CHECK_MAX_CHARS and at most MAX_CHECKS are kept; a block with none left is ignored.
"""

from __future__ import annotations

from typing import Any

CHECKS = "CHECKS"
MAX_CHECKS = 5
CHECK_MAX_CHARS = 300  # the diagnostic_checks.text column


def checks_from(value: Any) -> list[str] | str:
    """The checks, or why the block is ignored."""
    if isinstance(value, dict):
        value = value.get("checks")
    if not isinstance(value, list):
        return "not a list of checks"
    checks: list[str] = []
    for item in value:
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not " ".join(text.split()):
            continue
        text = " ".join(text.split())[:CHECK_MAX_CHARS]
        if text.casefold() not in {c.casefold() for c in checks}:
            checks.append(text)
    if not checks:
        return "no checks in the block"
    return checks[:MAX_CHECKS]
