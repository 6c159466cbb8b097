"""Both documents composed deterministically from the bundle, without a model.

Used when no API key is configured and whenever the LLM fails, so the output must stand on
its own: plain sentences and "-" bullets that read well even where ConnectWise shows the raw
text. Every free-text field is flattened to one line, so nothing from the session can add or
break a section.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from plugin.features.notes.bundle import FixInBundle, GenerationInBundle, NoteBundle
from plugin.features.notes.sections import ESCALATION_HEADINGS, RESOLUTION_HEADINGS
from plugin.kernel.states import FixStatus

APPLIED_SUCCESS = FixStatus.APPLIED_SUCCESS
APPLIED_FAILED = FixStatus.APPLIED_FAILED
APPLIED_PARTIAL = FixStatus.APPLIED_PARTIAL
APPLIED_PENDING = FixStatus.APPLIED_PENDING
SUGGESTED = FixStatus.SUGGESTED
DISMISSED = FixStatus.DISMISSED

# A suggested fix that has been applied but has no reported outcome yet.
_VERIFYING = "verifying"

# Leading words lowered when a free-text reason continues a sentence ("waiting on the user…").
_COMMON_LEADING_WORDS = {
    "a", "an", "the", "our", "their", "his", "her", "its", "this", "that", "these", "those",
    "user", "users", "customer", "client", "vendor", "confirmation", "feedback",
}  # fmt: skip


def compose_resolution_note(bundle: NoteBundle) -> str:
    """The customer-visible note: what was wrong, what we found, what fixed it.

    Only the active fix is described; earlier attempts that failed are not the customer's
    concern beyond "the steps so far did not fix it".
    """
    fix = bundle.active_fix
    state = _state(fix) if fix else None
    facts = _fact_list(bundle.facts, "No findings were recorded.")
    return _document(
        RESOLUTION_HEADINGS,
        [
            _problem_statement(bundle),
            facts,
            _root_cause(fix, state),
            _resolution(fix, state, tried=bool(bundle.fixes)),
        ],
    )


def compose_escalation_package(bundle: NoteBundle) -> str:
    """The internal hand-over: everything tried, what we think now, what to do next."""
    return _document(
        ESCALATION_HEADINGS,
        [
            _escalation_problem(bundle),
            _fact_list(bundle.facts, "No findings have been recorded yet."),
            _what_we_tried(bundle),
            _current_hypothesis(bundle),
            _next_steps(bundle),
        ],
    )


# --- resolution note -------------------------------------------------------------------


def _root_cause(fix: FixInBundle | None, state: str | None) -> str:
    if fix is None or state == APPLIED_FAILED:
        return "The root cause has not been confirmed yet."
    evidence = "The evidence points to the issue addressed by the fix described below: "
    evidence += _sentence(fix.summary or fix.title)
    qualifier = {
        APPLIED_SUCCESS: "Applying the fix confirmed this.",
        APPLIED_PARTIAL: "The fix resolved part of the issue, so more than one cause may be "
        "involved.",
    }.get(state, "This is not confirmed yet.")
    return f"{evidence} {qualifier}"


def _resolution(fix: FixInBundle | None, state: str | None, tried: bool) -> str:
    if not tried:
        return "No fix has been applied yet; we are continuing to investigate."
    if fix is None or state == APPLIED_FAILED:
        return (
            "The issue is not resolved yet: the steps taken so far did not fix it, "
            "and we are continuing to investigate."
        )
    if state == SUGGESTED:
        return (
            f'The recommended fix is "{_inline(fix.title)}"{_how_run(fix)}. '
            "It has not been applied yet."
        )
    done = f'We applied the fix "{_inline(fix.title)}"{_how_run(fix)}.'
    if state == APPLIED_SUCCESS:
        return f"{done} It worked, and the issue is resolved."
    if state == APPLIED_PARTIAL:
        return f"{done} This resolved part of the issue. Still needing attention: {_notes(fix)}"
    if state == APPLIED_PENDING:
        return (
            f"{done} This fix is provisional: we are waiting on "
            f"{_continuation(fix.pending_reason)} to confirm it."
        )
    return f"{done} This fix is provisional: we are checking that it resolved the issue."


def _how_run(fix: FixInBundle) -> str:
    if fix.template_name:
        parameters = _describe_parameters(fix.parameters)
        suffix = f" ({parameters})" if parameters else ""
        return f' using the "{_inline(fix.template_name)}" script{suffix}'
    return " using a script" if fix.script else ""


# --- escalation package ----------------------------------------------------------------


def _escalation_problem(bundle: NoteBundle) -> str:
    paragraphs = [_problem_statement(bundle)]
    where = []
    if bundle.ticket_id is not None:
        where.append(f"Ticket #{bundle.ticket_id}")
    if bundle.company_name:
        company = _inline(bundle.company_name)
        where.append(f"for {company}" if where else f"Customer: {company}")
    if bundle.ticket_summary and _inline(bundle.session_title) not in (
        "",
        _inline(bundle.ticket_summary),
    ):
        where.append(f'(Fixpilot session "{_inline(bundle.session_title)}")')
    if where:
        paragraphs.append(" ".join(where) + ".")
    return "\n\n".join(paragraphs)


def _what_we_tried(bundle: NoteBundle) -> str:
    blocks = []
    if bundle.fixes:
        blocks.append("\n".join(_tried_item(n, fix) for n, fix in enumerate(bundle.fixes, 1)))
        blocks.extend(
            f'Script run for {n}. "{_inline(fix.title)}":\n\n{_fenced(fix.script or "")}'
            for n, fix in enumerate(bundle.fixes, 1)
            if _shows_script(fix)
        )
    else:
        blocks.append("Nothing has been tried yet.")
    if bundle.generations:
        blocks.append(
            "Scripts generated in this session:\n"
            + "\n".join(f"- {_describe_generation(g)}" for g in bundle.generations)
        )
    return "\n\n".join(blocks)


def _tried_item(number: int, fix: FixInBundle) -> str:
    superseded = " (superseded)" if fix.superseded and fix.status != DISMISSED else ""
    lines = [f"{number}. {_inline(fix.title)}{superseded} — {_outcome(fix)}"]
    if fix.summary:
        lines.append(f"   - Idea{_confidence(fix)}: {_sentence(fix.summary)}")
    if fix.template_name:
        parameters = _describe_parameters(fix.parameters)
        lines.append(
            f'   - Script: the "{_inline(fix.template_name)}" template'
            + (f" ({parameters})." if parameters else ".")
        )
    elif fix.script:
        shown = " (shown below)" if _shows_script(fix) else ""
        lines.append(f"   - Script: a custom script{shown}.")
    if fix.partial_notes and fix.status != APPLIED_PARTIAL:
        lines.append(f"   - Earlier notes: {_sentence(fix.partial_notes)}")
    return "\n".join(lines)


def _outcome(fix: FixInBundle) -> str:
    state = _state(fix)
    if state == APPLIED_PARTIAL:
        return f"partly worked: {_notes(fix)}"
    if state == APPLIED_PENDING:
        return f"waiting to verify: {_clause(fix.pending_reason)}."
    if state == APPLIED_FAILED and fix.failure_reason:
        return f"didn't work: {_sentence(fix.failure_reason)}"
    return {
        APPLIED_SUCCESS: "worked.",
        APPLIED_FAILED: "didn't work.",
        _VERIFYING: "applied, outcome not reported yet.",
        SUGGESTED: "suggested, not applied.",
        DISMISSED: "dismissed.",
    }.get(state, _sentence(state.replace("_", " ")))


def _current_hypothesis(bundle: NoteBundle) -> str:
    active, pending = bundle.active_fix, _leading_pending_fix(bundle)
    if pending is not None:
        text = (
            f'"{_inline(pending.title)}": {_sentence(pending.summary)} It has been applied '
            f"and we are waiting on {_continuation(pending.pending_reason)} to confirm it."
        )
        if active is not None and active is not pending:
            text += (
                f'\n\nA newer suggestion is also open: "{_inline(active.title)}": '
                f"{_sentence(active.summary)} Status: {_outcome(active)}"
            )
        return text
    if active is None:
        return "No working hypothesis yet."
    state = _state(active)
    if state == APPLIED_FAILED:
        return (
            f'No working hypothesis yet: the latest fix, "{_inline(active.title)}", didn\'t work.'
        )
    status = {
        APPLIED_SUCCESS: "This fix worked.",
        APPLIED_PARTIAL: f"It partly worked; still outstanding: {_notes(active)}",
        _VERIFYING: "It has been applied; the outcome has not been reported yet.",
    }.get(state, f"Not applied yet{_confidence(active)}.")
    return f'"{_inline(active.title)}": {_sentence(active.summary)} {status}'


def _next_steps(bundle: NoteBundle) -> str:
    active, pending = bundle.active_fix, _leading_pending_fix(bundle)
    steps = []
    if not bundle.facts:
        steps.append(
            "Record confirmed findings (scope, exact error messages, when it started) so the "
            "next steps rest on evidence."
        )
    if pending is not None:
        steps.append(
            f"Follow up on what we are waiting on ({_continuation(pending.pending_reason)}) and "
            f'record the outcome of "{_inline(pending.title)}".'
        )
        steps.append(
            "If it worked, resolve the ticket; if it didn't, mark it as failed and try "
            "another approach."
        )
    if active is not None and active is not pending:
        steps.extend(_steps_for_active(active))
    elif active is None and pending is None:
        if any(fix.status == APPLIED_FAILED for fix in bundle.fixes):
            steps.extend(_steps_after_failure())
        else:
            steps.append(
                "Gather more evidence: reproduce the issue and collect error messages and logs "
                "from the affected system."
            )
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def _steps_for_active(fix: FixInBundle) -> list[str]:
    title = f'"{_inline(fix.title)}"'
    state = _state(fix)
    if state == APPLIED_PARTIAL:
        return [
            f"Address what remains after {title}: {_notes(fix)}",
            "Confirm the whole issue is fixed before resolving the ticket.",
        ]
    if state == APPLIED_FAILED:
        return _steps_after_failure()
    if state == APPLIED_SUCCESS:
        return ["Confirm with the customer that the issue is resolved, then resolve the ticket."]
    if state == _VERIFYING:
        return [f"Check whether {title} fixed the issue and record its outcome."]
    return [f"Review the suggested fix {title}, apply it if appropriate, and record its outcome."]


def _steps_after_failure() -> list[str]:
    return [
        'Try a different approach: the fixes marked "didn\'t work" above can be ruled out.',
        "Gather logs and error details from the affected system to narrow down the cause.",
    ]


def _leading_pending_fix(bundle: NoteBundle) -> FixInBundle | None:
    """The fix we are waiting to verify: the active one if pending, else the latest pending."""
    active = bundle.active_fix
    if active is not None and active.status == APPLIED_PENDING:
        return active
    pending = [fix for fix in bundle.fixes if fix.status == APPLIED_PENDING]
    return pending[-1] if pending else None


def _shows_script(fix: FixInBundle) -> bool:
    """A custom script that actually ran is worth showing the next engineer verbatim."""
    return bool(fix.script) and not fix.template_name and fix.applied


def _describe_generation(generation: GenerationInBundle) -> str:
    if not generation.template_name:
        return "a custom script"
    parameters = _describe_parameters(generation.parameters)
    name = f'the "{_inline(generation.template_name)}" template'
    return f"{name} ({parameters})" if parameters else name


def _confidence(fix: FixInBundle) -> str:
    return "" if fix.confidence is None else f" (confidence {fix.confidence}%)"


# --- shared helpers ----------------------------------------------------------------------


def _document(headings: list[str], bodies: list[str]) -> str:
    return "\n\n".join(f"## {h}\n\n{body}" for h, body in zip(headings, bodies, strict=True)) + "\n"


def _problem_statement(bundle: NoteBundle) -> str:
    described = _inline(bundle.ticket_summary) or _inline(bundle.session_title)
    if not described:
        return "No problem description was recorded."
    # A leading "#", "`" or "~" would turn the line into a heading or a code fence.
    return _sentence(re.sub(r"^([#`~])", r"\\\1", described))


def _fact_list(facts: list[str], when_empty: str) -> str:
    items = [_inline(fact) for fact in facts if _inline(fact)]
    return "\n".join(f"- {_sentence(item)}" for item in items) if items else when_empty


def _state(fix: FixInBundle) -> str:
    if fix.status == SUGGESTED and fix.applied:
        return _VERIFYING
    return fix.status


def _notes(fix: FixInBundle) -> str:
    return _sentence(fix.partial_notes) or "no notes were recorded."


def _describe_parameters(parameters: Mapping[str, Any]) -> str:
    return "; ".join(f"{_inline(str(name))}: {_value(value)}" for name, value in parameters.items())


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str):
        return _inline(value) or '""'
    return _inline(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _inline(text: str | None) -> str:
    return " ".join((text or "").split())


def _clause(text: str | None) -> str:
    """Free text made to sit inside a sentence: one line, no closing full stop."""
    return _inline(text).rstrip(".;") or "confirmation"


def _continuation(text: str | None) -> str:
    """Like `_clause`, also lowering a capitalised common first word ("The user…")."""
    clause = _clause(text)
    first, _, rest = clause.partition(" ")
    if first.istitle() and first.lower() in _COMMON_LEADING_WORDS:
        return f"{first.lower()} {rest}".rstrip()
    return clause


def _sentence(text: str | None) -> str:
    sentence = _inline(text)
    if sentence and sentence[-1] not in ".!?…:)\"'":
        sentence += "."
    return sentence


def _fenced(code: str) -> str:
    # The fence must be longer than any backtick run in the script, or the script ends it.
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{code.strip(chr(10))}\n{fence}"
