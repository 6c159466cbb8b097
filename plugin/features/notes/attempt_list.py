"""Each attempt once: the session's fixes as the escalation package lists them.

A fix is the same fix when it runs the same library template with the same parameters, or
has the same title and script. Every application of a fix is an attempt of its own; a fix that
was only suggested (or turned down) is listed once however often it was suggested, and a
suggestion repeated after the fix was tried is a note on that attempt, not a new line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from plugin.features.notes.bundle import FixInBundle
from plugin.features.notes.wording import APPLIED_FAILED, inline, was_applied


@dataclass(frozen=True)
class Attempt:
    fix: FixInBundle  # the fix described: the attempt itself, or the latest suggestion
    times_suggested: int = 1  # for a fix never applied: how often it was suggested
    suggested_again: bool = False  # the same fix was suggested again after this attempt


def identity(fix: FixInBundle) -> tuple[str, ...]:
    if fix.template_name:
        parameters = json.dumps(fix.parameters, sort_keys=True, default=str)
        return ("template", inline(fix.template_name).casefold(), parameters)
    return ("fix", inline(fix.title).casefold(), inline(fix.script))


def attempts(fixes: list[FixInBundle]) -> list[Attempt]:
    """The fixes to list, each once, in the order they first came up."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, fix in enumerate(fixes):
        groups.setdefault(identity(fix), []).append(index)
    listed: list[tuple[int, Attempt]] = []
    for indexes in groups.values():
        applied = [i for i in indexes if was_applied(fixes[i])]
        if not applied:
            latest = fixes[indexes[-1]]
            listed.append((indexes[0], Attempt(latest, times_suggested=len(indexes))))
            continue
        listed.extend((i, Attempt(fixes[i])) for i in applied[:-1])
        again = any(i > applied[-1] for i in indexes)
        listed.append((applied[-1], Attempt(fixes[applied[-1]], suggested_again=again)))
    return [attempt for _, attempt in sorted(listed, key=lambda pair: pair[0])]


def failed_before(fix: FixInBundle, fixes: list[FixInBundle]) -> bool:
    """Whether the same fix already didn't work earlier in the session."""
    same = identity(fix)
    return any(
        other is not fix and other.status == APPLIED_FAILED and identity(other) == same
        for other in fixes
    )
