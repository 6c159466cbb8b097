"""The escalation package composed deterministically from the bundle, without a model.

An internal hand-over: it opens with what is being waited on, says what was confirmed (the
facts, and what the engineer reported in chat: checked, ruled out, seen), lists each attempt
once with its outcome, then the current hypothesis and the next steps.
"""

from __future__ import annotations

from plugin.features.notes.attempt_list import Attempt, attempts, failed_before
from plugin.features.notes.bundle import FixInBundle, GenerationInBundle, NoteBundle
from plugin.features.notes.chat_reading import ChatReading, read_chat
from plugin.features.notes.sections import ESCALATION_HEADINGS
from plugin.features.notes.wording import (
    APPLIED_FAILED,
    APPLIED_PARTIAL,
    APPLIED_PENDING,
    APPLIED_SUCCESS,
    DISMISSED,
    SUGGESTED,
    VERIFYING,
    clause,
    continuation,
    describe_parameters,
    document,
    fact_list,
    fenced,
    inline,
    notes_of,
    problem_statement,
    quoted,
    sentence,
    state,
)


def compose_escalation_package(bundle: NoteBundle) -> str:
    """The internal hand-over: what we wait on, everything tried, what we think, what next."""
    reading = read_chat(bundle.chat, bundle.fixes)
    return document(
        ESCALATION_HEADINGS,
        [
            _escalation_problem(bundle),
            _confirmed(bundle, reading),
            _what_we_tried(bundle, reading),
            _current_hypothesis(bundle),
            _next_steps(bundle),
        ],
    )


def waiting_on(bundle: NoteBundle) -> str:
    """What the ticket is waiting on now, as the end of "Waiting on: …"."""
    active, pending = bundle.active_fix, _leading_pending_fix(bundle)
    if pending is not None:
        return (
            f"{continuation(pending.pending_reason)}, to confirm whether "
            f'"{inline(pending.title)}" worked'
        )
    active_state = state(active) if active is not None else None
    if active is not None and active_state == VERIFYING:
        return f'the outcome of "{inline(active.title)}" (applied, result not reported yet)'
    if bundle.open_question:
        return f"an answer to the open question {quoted(bundle.open_question)}"
    if active is None or active_state == APPLIED_FAILED:
        return "nothing in progress: no fix is pending, a new approach is needed"
    title = f'"{inline(active.title)}"'
    if active_state == APPLIED_PARTIAL:
        return f"a fix for what {title} left: {clause(active.partial_notes)}"
    if active_state == APPLIED_SUCCESS:
        return f"the customer's confirmation: {title} worked"
    if failed_before(active, bundle.fixes):
        return f"a decision on {title}, suggested again although it didn't work before"
    return f"the suggested fix {title} to be applied or turned down"


def _escalation_problem(bundle: NoteBundle) -> str:
    paragraphs = [
        f"Waiting on: {waiting_on(bundle)}.",
        problem_statement(bundle, "No problem description was recorded."),
    ]
    where = []
    if bundle.ticket_id is not None:
        where.append(f"Ticket #{bundle.ticket_id}")
    if bundle.company_name:
        company = inline(bundle.company_name)
        where.append(f"for {company}" if where else f"Customer: {company}")
    if bundle.ticket_summary and inline(bundle.session_title) not in (
        "",
        inline(bundle.ticket_summary),
    ):
        where.append(f'(Fixpilot session "{inline(bundle.session_title)}")')
    if where:
        paragraphs.append(" ".join(where) + ".")
    return "\n\n".join(paragraphs)


def _confirmed(bundle: NoteBundle, reading: ChatReading) -> str:
    blocks = [facts] if (facts := fact_list(bundle.facts)) else []
    reported = [f"- Checked or ruled out: {quoted(s)}" for s in reading.checked]
    reported += [f"- Seen: {quoted(s)}" for s in reading.seen]
    if reported:
        blocks.append(
            "The engineer reported in chat (their words, not recorded as facts):\n"
            + "\n".join(reported)
        )
    return "\n\n".join(blocks) or "Nothing has been confirmed yet."


def _what_we_tried(bundle: NoteBundle, reading: ChatReading) -> str:
    listed = attempts(bundle.fixes)
    blocks = []
    if listed:
        blocks.append("\n".join(_tried_item(n, a) for n, a in enumerate(listed, 1)))
        blocks.extend(
            f'Script run for {n}. "{inline(a.fix.title)}":\n\n{fenced(a.fix.script or "")}'
            for n, a in enumerate(listed, 1)
            if _shows_script(a.fix)
        )
    if reading.tried:
        blocks.append(
            "Also reported in chat (not run through Fixpilot):\n"
            + "\n".join(f"- {quoted(s)}" for s in reading.tried)
        )
    if not blocks:
        blocks.append("Nothing has been tried yet.")
    if bundle.generations:
        blocks.append(
            "Scripts generated in this session:\n"
            + "\n".join(f"- {_describe_generation(g)}" for g in bundle.generations)
        )
    return "\n\n".join(blocks)


def _tried_item(number: int, attempt: Attempt) -> str:
    fix = attempt.fix
    superseded = " (superseded)" if fix.superseded and fix.status != DISMISSED else ""
    lines = [f"{number}. {inline(fix.title)}{superseded} — {_outcome(fix)}"]
    if attempt.times_suggested > 1:
        lines.append(f"   - Suggested {attempt.times_suggested} times.")
    if attempt.suggested_again:
        lines.append("   - Suggested again afterwards; not applied again.")
    if fix.summary:
        lines.append(f"   - Idea{_confidence(fix)}: {sentence(fix.summary)}")
    if fix.template_name:
        parameters = describe_parameters(fix.parameters)
        same_name = inline(fix.template_name).casefold() == inline(fix.title).casefold()
        template = (
            "its library template" if same_name else f'the "{inline(fix.template_name)}" template'
        )
        lines.append(f"   - Script: {template}" + (f" ({parameters})." if parameters else "."))
    elif fix.script:
        shown = " (shown below)" if _shows_script(fix) else ""
        lines.append(f"   - Script: a custom script{shown}.")
    if fix.partial_notes and fix.status != APPLIED_PARTIAL:
        lines.append(f"   - Earlier notes: {sentence(fix.partial_notes)}")
    return "\n".join(lines)


def _outcome(fix: FixInBundle) -> str:
    fix_state = state(fix)
    if fix_state == APPLIED_PARTIAL:
        return f"partly worked: {notes_of(fix)}"
    if fix_state == APPLIED_PENDING:
        return f"waiting to verify: {clause(fix.pending_reason)}."
    if fix_state == APPLIED_FAILED and fix.failure_reason:
        return f"didn't work: {sentence(fix.failure_reason)}"
    return {
        APPLIED_SUCCESS: "worked.",
        APPLIED_FAILED: "didn't work.",
        VERIFYING: "applied, outcome not reported yet.",
        SUGGESTED: "suggested, not applied.",
        DISMISSED: "dismissed.",
    }.get(fix_state, sentence(fix_state.replace("_", " ")))


def _current_hypothesis(bundle: NoteBundle) -> str:
    active, pending = bundle.active_fix, _leading_pending_fix(bundle)
    if pending is not None:
        text = (
            f'"{inline(pending.title)}": {sentence(pending.summary)} It has been applied '
            f"and we are waiting on {continuation(pending.pending_reason)} to confirm it."
        )
        if active is not None and active is not pending:
            text += (
                f'\n\nA newer suggestion is also open: "{inline(active.title)}": '
                f"{sentence(active.summary)} Status: {_outcome(active)}"
            )
        return text
    if active is None:
        return "No working hypothesis yet."
    active_state = state(active)
    if active_state == APPLIED_FAILED:
        return f'No working hypothesis yet: the latest fix, "{inline(active.title)}", didn\'t work.'
    if active_state == SUGGESTED and failed_before(active, bundle.fixes):
        return (
            f'No working hypothesis yet: the current suggestion, "{inline(active.title)}", '
            "already didn't work in this session."
        )
    status = {
        APPLIED_SUCCESS: "This fix worked.",
        APPLIED_PARTIAL: f"It partly worked; still outstanding: {notes_of(active)}",
        VERIFYING: "It has been applied; the outcome has not been reported yet.",
    }.get(active_state, f"Not applied yet{_confidence(active)}.")
    return f'"{inline(active.title)}": {sentence(active.summary)} {status}'


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
            f"Follow up on what we are waiting on ({continuation(pending.pending_reason)}) and "
            f'record the outcome of "{inline(pending.title)}".'
        )
        steps.append(
            "If it worked, resolve the ticket; if it didn't, mark it as failed and try "
            "another approach."
        )
    if bundle.open_question and pending is None:
        steps.append(f"Answer the open question: {quoted(bundle.open_question)}")
    if active is not None and active is not pending:
        steps.extend(_steps_for_active(active, failed_before(active, bundle.fixes)))
    elif active is None and pending is None:
        if any(fix.status == APPLIED_FAILED for fix in bundle.fixes):
            steps.extend(_steps_after_failure())
        else:
            steps.append(
                "Gather more evidence: reproduce the issue and collect error messages and logs "
                "from the affected system."
            )
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def _steps_for_active(fix: FixInBundle, failed_earlier: bool) -> list[str]:
    title = f'"{inline(fix.title)}"'
    fix_state = state(fix)
    if fix_state == APPLIED_PARTIAL:
        return [
            f"Address what remains after {title}: {notes_of(fix)}",
            "Confirm the whole issue is fixed before resolving the ticket.",
        ]
    if fix_state == APPLIED_FAILED or (fix_state == SUGGESTED and failed_earlier):
        return _steps_after_failure()
    if fix_state == APPLIED_SUCCESS:
        return ["Confirm with the customer that the issue is resolved, then resolve the ticket."]
    if fix_state == VERIFYING:
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
    parameters = describe_parameters(generation.parameters)
    name = f'the "{inline(generation.template_name)}" template'
    return f"{name} ({parameters})" if parameters else name


def _confidence(fix: FixInBundle) -> str:
    return "" if fix.confidence is None else f" (confidence {fix.confidence}%)"
