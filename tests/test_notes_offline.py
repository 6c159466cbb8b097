"""The offline composer, the section check and the bundle: pure functions, no I/O."""

from __future__ import annotations

import json

import pytest

from plugin.features.notes.bundle import FixInBundle, GenerationInBundle, NoteBundle
from plugin.features.notes.escalation import compose_escalation_package
from plugin.features.notes.offline import compose_resolution_note
from plugin.features.notes.sections import (
    ESCALATION_HEADINGS,
    RESOLUTION_HEADINGS,
    RESOLUTION_OPTIONAL,
    check_sections,
    normalise,
)

SPOOLER_RESTART = FixInBundle(
    title="Restart the print spooler",
    summary="The spooler service is hung; restarting it clears the stuck jobs.",
    status="applied_failed",
    confidence=70,
    superseded=True,
    applied=True,
    verified=True,
    template_name="Restart Windows service",
    parameters={"service_name": "Spooler", "admin_password": "[REDACTED]"},
)
CLEAR_SPOOL = FixInBundle(
    title="Clear the spool folder",
    summary="Corrupt spool files block the queue.",
    status="applied_partial",
    confidence=60,
    superseded=True,
    applied=True,
    partial_notes="The HR printer is still offline",
    script=(
        "Stop-Service Spooler\n# Remove stuck jobs\nRemove-Item C:\\spool\\*\nStart-Service Spooler"
    ),
)
DRIVER_REINSTALL = FixInBundle(
    title="Reinstall the printer driver",
    summary="The printer driver was corrupted by the last Windows update.",
    status="applied_pending",
    confidence=80,
    active=True,
    applied=True,
    pending_reason="the user to confirm printing works tomorrow morning",
    template_name="Reinstall printer driver",
    parameters={"printer": "HP-2F", "share_password": "[REDACTED]"},
)
FACTS = ["Print queue shows 14 stuck jobs", "The spooler service is running but not responding"]


def make_bundle(**overrides) -> NoteBundle:
    values = {
        "session_title": "Printing broken",
        "ticket_id": 4711,
        "ticket_summary": "Accounting cannot print to the 2nd floor printer",
        "company_name": "Contoso Ltd",
        "facts": FACTS,
        "fixes": [],
        "generations": [],
    }
    return NoteBundle(**(values | overrides))


def section(markdown: str, heading: str) -> str:
    """The body of one `## heading` section."""
    after = markdown.split(f"## {heading}\n", 1)[1]
    return after.split("\n## ", 1)[0].strip()


def assert_well_formed(bundle: NoteBundle) -> tuple[str, str]:
    note = compose_resolution_note(bundle)
    package = compose_escalation_package(bundle)
    assert check_sections(note, RESOLUTION_HEADINGS, RESOLUTION_OPTIONAL) == []
    assert check_sections(package, ESCALATION_HEADINGS) == []
    # Already in normal form: what the offline composer writes is what gets stored.
    assert normalise(note, RESOLUTION_HEADINGS) == note
    assert normalise(package, ESCALATION_HEADINGS) == package
    return note, package


# --- offline composer --------------------------------------------------------------------


def test_empty_session_still_has_every_required_section_with_honest_text():
    note, package = assert_well_formed(NoteBundle(session_title=""))

    # The customer's note says nothing it has nothing to say: no "none recorded" filler.
    assert section(note, "Problem") == "The issue reported on this ticket."
    assert "## What we confirmed" not in note
    assert "recorded" not in note
    assert "not been confirmed" in section(note, "Root cause")
    assert "No fix has been applied yet" in section(note, "Resolution")
    assert section(package, "What we've tried") == "Nothing has been tried yet."
    assert section(package, "Current hypothesis") == "No working hypothesis yet."
    assert "Gather more evidence" in section(package, "Suggested next steps")


def test_no_facts_leaves_the_customer_section_out_and_problem_falls_back_to_title():
    bundle = make_bundle(facts=[], ticket_summary=None)
    note, package = assert_well_formed(bundle)

    assert section(note, "Problem") == "Printing broken."
    assert "## What we confirmed" not in note
    assert section(package, "What we've confirmed") == "Nothing has been confirmed yet."
    assert "Record confirmed findings" in section(package, "Suggested next steps")


def test_facts_become_one_bullet_each():
    note, package = assert_well_formed(make_bundle())

    expected = (
        "- Print queue shows 14 stuck jobs.\n- The spooler service is running but not responding."
    )
    assert section(note, "What we confirmed") == expected
    assert section(package, "What we've confirmed") == expected


def test_successful_fix_is_the_resolution_with_its_template_and_redacted_parameters():
    worked = FixInBundle(
        title="Reinstall the printer driver",
        summary="The printer driver was corrupted by the last Windows update.",
        status="applied_success",
        active=True,
        applied=True,
        verified=True,
        template_name="Reinstall printer driver",
        parameters={"printer": "HP-2F", "share_password": "[REDACTED]", "reboot": False},
    )
    note, _ = assert_well_formed(make_bundle(fixes=[worked]))

    resolution = section(note, "Resolution")
    assert '"Reinstall the printer driver"' in resolution
    assert '"Reinstall printer driver" script' in resolution
    assert "printer: HP-2F; share_password: [REDACTED]; reboot: no" in resolution
    assert "It worked, and the issue is resolved." in resolution
    assert "provisional" not in note
    assert section(note, "Root cause").startswith("The evidence points to")
    assert "corrupted by the last Windows update" in section(note, "Root cause")


def test_custom_script_fix_is_described_as_a_script_without_its_code():
    worked = FixInBundle(
        title="Clear the spool folder",
        summary="Corrupt spool files.",
        status="applied_success",
        applied=True,
        script="Remove-Item C:\\spool\\*",
    )
    note, _ = assert_well_formed(make_bundle(fixes=[worked]))

    assert 'We applied the fix "Clear the spool folder" using a script.' in note
    assert "Remove-Item" not in note


def test_pending_fix_is_provisional_and_names_what_is_awaited():
    note, package = assert_well_formed(make_bundle(fixes=[DRIVER_REINSTALL]))

    assert (
        "This fix is provisional: we are waiting on the user to confirm printing works "
        "tomorrow morning to confirm it." in section(note, "Resolution")
    )
    assert "not confirmed yet" in section(note, "Root cause")
    hypothesis = section(package, "Current hypothesis")
    assert hypothesis.startswith('"Reinstall the printer driver"')
    assert "waiting on the user to confirm printing works tomorrow morning" in hypothesis
    assert "the user to confirm printing works" in section(package, "Suggested next steps")


def test_pending_reason_continues_the_sentence_in_lower_case():
    fix = FixInBundle("Fix", "Idea.", "applied_pending", pending_reason="The vendor's reply.")
    note, _ = assert_well_formed(make_bundle(fixes=[fix]))

    assert "we are waiting on the vendor's reply to confirm it." in note


def test_partial_fix_says_what_still_needs_attention():
    partial = FixInBundle(
        title="Clear the spool folder",
        summary="Corrupt spool files block the queue.",
        status="applied_partial",
        active=True,
        applied=True,
        partial_notes="The HR printer is still offline",
    )
    note, package = assert_well_formed(make_bundle(fixes=[partial]))

    assert "Still needing attention: The HR printer is still offline." in section(
        note, "Resolution"
    )
    assert "partly worked: The HR printer is still offline." in section(package, "What we've tried")
    assert "Address what remains" in section(package, "Suggested next steps")


def test_failed_attempts_are_listed_for_engineers_but_not_detailed_for_the_customer():
    bundle = make_bundle(fixes=[SPOOLER_RESTART, CLEAR_SPOOL, DRIVER_REINSTALL])
    note, package = assert_well_formed(bundle)

    for detail in ("Restart the print spooler", "Spooler", "Clear the spool folder", "HR printer"):
        assert detail not in note
    tried = section(package, "What we've tried")
    assert "1. Restart the print spooler (superseded) — didn't work." in tried
    assert "2. Clear the spool folder (superseded) — partly worked: The HR printer" in tried
    assert "3. Reinstall the printer driver — waiting to verify: the user to confirm" in tried
    assert "service_name: Spooler; admin_password: [REDACTED]" in tried
    assert "(confidence 70%)" in tried


def test_escalation_quotes_a_custom_script_that_ran_inside_a_code_block():
    _, package = assert_well_formed(make_bundle(fixes=[CLEAR_SPOOL]))

    tried = section(package, "What we've tried")
    assert "a custom script (shown below)" in tried
    # The PowerShell comment stays code: it is fenced, so it is not a heading.
    assert "```\nStop-Service Spooler\n# Remove stuck jobs\n" in tried


def test_a_script_containing_backticks_cannot_end_its_code_block():
    tricky = FixInBundle(
        title="Odd script",
        summary="Idea.",
        status="applied_failed",
        applied=True,
        script="Write-Host ```\n## Not a heading\n```",
    )
    assert_well_formed(make_bundle(fixes=[tricky]))


def test_superseded_and_dismissed_fixes_are_in_what_we_tried():
    dismissed = FixInBundle("Replace the toner", "Low toner.", "dismissed", superseded=True)
    replaced = FixInBundle(
        "Power-cycle the printer", "Firmware hang.", "suggested", superseded=True
    )
    current = FixInBundle(
        "Update the firmware", "Known firmware bug.", "suggested", confidence=55, active=True
    )
    note, package = assert_well_formed(make_bundle(fixes=[dismissed, replaced, current]))

    tried = section(package, "What we've tried")
    assert "1. Replace the toner — dismissed." in tried
    assert "2. Power-cycle the printer (superseded) — suggested, not applied." in tried
    assert "3. Update the firmware — suggested, not applied." in tried
    assert "Not applied yet (confidence 55%)." in section(package, "Current hypothesis")
    assert "Review the suggested fix" in section(package, "Suggested next steps")
    assert "has not been applied yet" in section(note, "Resolution")
    assert "Replace the toner" not in note


def test_active_failed_fix_leaves_no_hypothesis_and_the_customer_note_unresolved():
    failed = FixInBundle("Restart the spooler", "Hung spooler.", "applied_failed", applied=True)
    note, package = assert_well_formed(make_bundle(fixes=[failed]))

    assert section(note, "Root cause") == "The root cause has not been confirmed yet."
    assert "not resolved yet" in section(note, "Resolution")
    assert "Restart the spooler" not in note
    assert section(package, "Current hypothesis").startswith("No working hypothesis yet")
    steps = section(package, "Suggested next steps")
    assert "Try a different approach" in steps
    assert "Gather logs" in steps


def test_applied_fix_without_outcome_is_provisional():
    verifying = FixInBundle("Update the firmware", "Bug.", "suggested", active=True, applied=True)
    note, package = assert_well_formed(make_bundle(fixes=[verifying]))

    assert "provisional: we are checking that it resolved the issue" in note
    assert "applied, outcome not reported yet" in section(package, "What we've tried")


def test_pending_fix_leads_the_hypothesis_even_after_a_newer_suggestion():
    pending = FixInBundle(
        "Reinstall the driver",
        "Driver.",
        "applied_pending",
        superseded=True,
        pending_reason="a reboot",
    )
    newer = FixInBundle("Update the firmware", "Firmware.", "suggested", active=True)
    _, package = assert_well_formed(make_bundle(fixes=[pending, newer]))

    hypothesis = section(package, "Current hypothesis")
    assert hypothesis.startswith('"Reinstall the driver"')
    assert "waiting on a reboot" in hypothesis
    assert '"Update the firmware"' in hypothesis
    steps = section(package, "Suggested next steps")
    assert steps.index("a reboot") < steps.index("Update the firmware")


def test_escalation_names_ticket_company_and_generated_scripts():
    generations = [
        GenerationInBundle(
            "Restart Windows service", {"service_name": "Spooler"}, "Restart-Service"
        ),
        GenerationInBundle(None, {}, "Get-Printer"),
    ]
    _, package = assert_well_formed(make_bundle(generations=generations))

    assert 'Ticket #4711 for Contoso Ltd (Fixpilot session "Printing broken").' in package
    tried = section(package, "What we've tried")
    assert '- the "Restart Windows service" template (service_name: Spooler)' in tried
    assert "- a custom script" in tried


def test_hostile_free_text_cannot_add_or_break_sections():
    bundle = make_bundle(
        ticket_summary="```\n## Resolution\nDone",
        facts=["## Root cause\nnot this", "# Heading", "   "],
        fixes=[
            FixInBundle(
                "## Title", "```", "applied_partial", active=True, partial_notes="\n\n## Extra"
            )
        ],
    )
    note, package = assert_well_formed(bundle)

    assert note.count("\n## ") == len(RESOLUTION_HEADINGS) - 1
    assert package.count("\n## ") == len(ESCALATION_HEADINGS) - 1


def test_the_same_bundle_gives_the_same_documents():
    bundle = make_bundle(fixes=[SPOOLER_RESTART, CLEAR_SPOOL, DRIVER_REINSTALL])
    assert compose_resolution_note(bundle) == compose_resolution_note(
        make_bundle(fixes=list(bundle.fixes))
    )
    assert compose_escalation_package(bundle) == compose_escalation_package(bundle)


# --- bundle ------------------------------------------------------------------------------


def test_active_fix_is_the_one_neither_superseded_nor_dismissed():
    assert make_bundle().active_fix is None
    assert make_bundle(fixes=[SPOOLER_RESTART, DRIVER_REINSTALL]).active_fix is DRIVER_REINSTALL
    dismissed = FixInBundle("Replace the toner", "Low toner.", "dismissed")
    assert make_bundle(fixes=[SPOOLER_RESTART, dismissed]).active_fix is None


def test_prompt_json_is_compact_stable_and_complete():
    one = make_bundle(fixes=[DRIVER_REINSTALL]).to_prompt_json()
    reordered = FixInBundle(
        **(
            vars(DRIVER_REINSTALL)
            | {"parameters": {"share_password": "[REDACTED]", "printer": "HP-2F"}}
        )
    )
    two = make_bundle(fixes=[reordered]).to_prompt_json()

    assert one == two
    assert "\n" not in one and '": ' not in one  # compact separators
    data = json.loads(one)
    assert data["fixes"][0]["pending_reason"] == DRIVER_REINSTALL.pending_reason
    assert data["ticket_id"] == 4711
    assert data["facts"] == FACTS


# --- section check -----------------------------------------------------------------------

GOOD_NOTE = """## Problem

Printer down.

## What we confirmed

- Queue stuck.

## Root cause

Driver.

## Resolution

Reinstalled the driver.
"""


def test_good_note_passes():
    assert check_sections(GOOD_NOTE, RESOLUTION_HEADINGS) == []


def test_missing_heading_is_named():
    markdown = GOOD_NOTE.replace("## Root cause\n\nDriver.\n\n", "")
    assert check_sections(markdown, RESOLUTION_HEADINGS) == ["missing heading '## Root cause'"]


def test_reordered_headings_are_reported():
    markdown = (
        "## Problem\n\nA\n\n## Root cause\n\nB\n\n## What we confirmed\n\nC\n\n## Resolution\n\nD\n"
    )
    problems = check_sections(markdown, RESOLUTION_HEADINGS)
    assert len(problems) == 1
    assert problems[0].startswith("headings are out of order")


@pytest.mark.parametrize("extra", ["# Resolution note", "## Next steps", "## Problem"])
def test_extra_top_level_heading_is_reported(extra):
    markdown = GOOD_NOTE + f"\n{extra}\n\nMore.\n"
    problems = check_sections(markdown, RESOLUTION_HEADINGS)
    assert len(problems) == 1
    assert extra.split(" ", 1)[1] in problems[0]


def test_preamble_before_the_first_heading_is_reported():
    problems = check_sections("Here is the note:\n\n" + GOOD_NOTE, RESOLUTION_HEADINGS)
    assert problems == ["there is text before the first heading: start directly with '## Problem'"]


def test_empty_section_and_empty_answer_are_reported():
    markdown = GOOD_NOTE.replace("Driver.\n", "")
    assert check_sections(markdown, RESOLUTION_HEADINGS) == ["section '## Root cause' is empty"]
    assert check_sections("  \n", RESOLUTION_HEADINGS) == ["the answer is empty"]


def test_subheadings_and_code_comments_are_not_top_level():
    markdown = GOOD_NOTE.replace(
        "Reinstalled the driver.", "### Steps\n\n```powershell\n# comment\n## also code\n```"
    )
    assert check_sections(markdown, RESOLUTION_HEADINGS) == []


def test_heading_match_is_loose_and_normalise_makes_it_exact():
    loose = """```markdown
## problem  \n\n\n\nA
## **What we’ve confirmed:**
- B
## What We've Tried
C\n\n\n
# Current hypothesis
D
## Suggested next steps ##
E
```"""
    assert check_sections(normalise(loose), ESCALATION_HEADINGS)  # `#` level still wrong
    tidy = normalise(loose, ESCALATION_HEADINGS)
    assert check_sections(tidy, ESCALATION_HEADINGS) == []
    assert tidy == (
        "## Problem\n\nA\n\n## What we've confirmed\n\n- B\n\n## What we've tried\n\nC\n\n"
        "## Current hypothesis\n\nD\n\n## Suggested next steps\n\nE\n"
    )


def test_normalise_keeps_blank_lines_inside_code_blocks():
    markdown = "## Problem\n\n```\na\n\n\nb\n```\n\n\n\nText"
    assert normalise(markdown) == "## Problem\n\n```\na\n\n\nb\n```\n\nText\n"
