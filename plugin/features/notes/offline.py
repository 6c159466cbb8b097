"""The resolution note composed deterministically from the bundle, without a model.

Used when no API key is configured and whenever the LLM fails, so the output must stand on
its own: plain sentences and "-" bullets that read well even where ConnectWise shows the raw
text. The customer reads it, so it is written from the bundle's customer view (no confidence,
no chat, no matching text) and says nothing it has nothing to say: without confirmed facts
there is no "What we confirmed" section. The escalation package is `escalation.py`'s.
"""

from __future__ import annotations

from plugin.features.notes.bundle import FixInBundle, NoteBundle
from plugin.features.notes.sections import RESOLUTION_HEADINGS
from plugin.features.notes.wording import (
    APPLIED_FAILED,
    APPLIED_PARTIAL,
    APPLIED_PENDING,
    APPLIED_SUCCESS,
    SUGGESTED,
    continuation,
    describe_parameters,
    document,
    fact_list,
    inline,
    notes_of,
    problem_statement,
    sentence,
    state,
)

UNKNOWN_PROBLEM = "The issue reported on this ticket."


def compose_resolution_note(bundle: NoteBundle) -> str:
    """The customer-visible note: what was wrong, what we found, what fixed it.

    Only the active fix is described; earlier attempts that failed are not the customer's
    concern beyond "the steps so far did not fix it".
    """
    fix = bundle.active_fix
    fix_state = state(fix) if fix else None
    return document(
        RESOLUTION_HEADINGS,
        [
            problem_statement(bundle, UNKNOWN_PROBLEM),
            fact_list(bundle.facts),
            _root_cause(fix, fix_state),
            _resolution(fix, fix_state, tried=bool(bundle.fixes)),
        ],
    )


def _root_cause(fix: FixInBundle | None, fix_state: str | None) -> str:
    if fix is None or fix_state == APPLIED_FAILED:
        return "The root cause has not been confirmed yet."
    if fix.summary:
        evidence = "The evidence points to the issue addressed by the fix described below: "
        evidence += sentence(fix.summary)
    else:
        evidence = f'The evidence points to the issue addressed by "{inline(fix.title)}".'
    qualifier = {
        APPLIED_SUCCESS: "Applying the fix confirmed this.",
        APPLIED_PARTIAL: "The fix resolved part of the issue, so more than one cause may be "
        "involved.",
    }.get(fix_state, "This is not confirmed yet.")
    return f"{evidence} {qualifier}"


def _resolution(fix: FixInBundle | None, fix_state: str | None, tried: bool) -> str:
    if not tried:
        return "No fix has been applied yet; we are continuing to investigate."
    if fix is None or fix_state == APPLIED_FAILED:
        return (
            "The issue is not resolved yet: the steps taken so far did not fix it, "
            "and we are continuing to investigate."
        )
    if fix_state == SUGGESTED:
        return (
            f'The recommended fix is "{inline(fix.title)}"{_how_run(fix)}. '
            "It has not been applied yet."
        )
    done = f'We applied the fix "{inline(fix.title)}"{_how_run(fix)}.'
    if fix_state == APPLIED_SUCCESS:
        return f"{done} It worked, and the issue is resolved."
    if fix_state == APPLIED_PARTIAL:
        return f"{done} This resolved part of the issue. Still needing attention: {notes_of(fix)}"
    if fix_state == APPLIED_PENDING:
        return (
            f"{done} This fix is provisional: we are waiting on "
            f"{continuation(fix.pending_reason)} to confirm it."
        )
    return f"{done} This fix is provisional: we are checking that it resolved the issue."


def _how_run(fix: FixInBundle) -> str:
    if fix.template_name:
        parameters = describe_parameters(fix.parameters)
        suffix = f" ({parameters})" if parameters else ""
        if inline(fix.template_name).casefold() == inline(fix.title).casefold():
            return f" using our standard script for it{suffix}"
        return f' using the "{inline(fix.template_name)}" script{suffix}'
    return " using a script" if fix.script else ""
