"""Customer-grade resolution notes and grounded escalation packages.

The customer's note carries no internal matching text (keywords, match explanations,
confidence, generator or model names) and no "nothing recorded" filler, whether the offline
composer or the LLM wrote it. The escalation package draws on the chat (what the engineer
checked, saw and tried), lists each attempt once and opens with what the ticket waits on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from plugin.features.notes.bundle import FixInBundle, NoteBundle
from plugin.features.notes.chat_reading import read_chat
from plugin.features.notes.customer_grade import customer_grade
from plugin.features.notes.escalation import compose_escalation_package, waiting_on
from plugin.features.notes.generator import DocumentKind, generate_document
from plugin.features.notes.sections import (
    ESCALATION_HEADINGS,
    RESOLUTION_HEADINGS,
    RESOLUTION_OPTIONAL,
    check_sections,
)
from plugin.features.scripts.shipped import load_shipped_library, shipped_library
from plugin.kernel.tenancy import get_account_by_slug
from providers.llm import OfflineProvider
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, insert_fix, new_session
from tests.test_notes_generator import ScriptedLLM

# What a customer must never read, however it is spelled.
INTERNAL = re.compile(
    r"keyword|matches what you described|match(ed|ing)? (words|score)|library template"
    r"|confidence|\d+\s*%|similar ticket|track record|fixpilot|offline|anthropic|claude"
    r"|scripted-1|generator",
    re.IGNORECASE,
)
FILLER = re.compile(r"no findings|none recorded|not recorded|nothing (was )?recorded|\bn/a\b", re.I)

# How fixes described themselves before they were customer-grade: offline matching text,
# a confidence aside, a track record from similar tickets.
MATCHED_SUMMARY = (
    "The library template Restart the Print Spooler and clear its queue matches what you "
    'described ("print", "queue", "stuck"). It worked on #4711 and #4820 (similar tickets).'
)


def spooler_fix(status: str, **values) -> FixInBundle:
    return FixInBundle(
        **{
            "title": "Restart the Print Spooler and clear its queue (confidence 70%)",
            "summary": MATCHED_SUMMARY,
            "status": status,
            "confidence": 70,
            "active": True,
            "applied": status != "suggested",
            "template_name": "Restart the Print Spooler and clear its queue",
            "parameters": {"computer_name": "PC-042"},
            **values,
        }
    )


def assert_customer_grade(note: str) -> None:
    assert check_sections(note, RESOLUTION_HEADINGS, RESOLUTION_OPTIONAL) == []
    assert INTERNAL.search(note) is None, INTERNAL.search(note)
    assert FILLER.search(note) is None, FILLER.search(note)


# --- the customer's note -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fixes",
    [
        [],
        [spooler_fix("suggested")],
        [spooler_fix("applied_success")],
        [spooler_fix("applied_failed")],
        [spooler_fix("applied_partial", partial_notes="Tray 2 still jams")],
        [spooler_fix("applied_pending", pending_reason="the user to print after lunch")],
    ],
    ids=["no-fix", "suggested", "worked", "failed", "partial", "pending"],
)
async def test_offline_customer_note_has_no_internal_text_and_no_filler(fixes):
    bundle = NoteBundle(session_title="Accounting cannot print", ticket_id=4711, fixes=fixes)

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, bundle, OfflineProvider())

    assert_customer_grade(document.markdown)
    assert "## What we confirmed" not in document.markdown  # no facts: left out
    if fixes and fixes[0].status != "applied_failed":  # a failed fix is not the customer's
        assert '"Restart the Print Spooler and clear its queue"' in document.markdown


async def test_offline_customer_note_keeps_facts_and_the_customers_own_words():
    bundle = NoteBundle(
        session_title="Keyword search in SharePoint returns nothing",
        facts=["Keyword search fails for every user since Monday"],
        fixes=[spooler_fix("applied_success")],
    )

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, bundle, OfflineProvider())

    assert "Keyword search in SharePoint returns nothing." in document.markdown
    assert "- Keyword search fails for every user since Monday." in document.markdown
    assert "70%" not in document.markdown and "matches what you described" not in document.markdown


NOTE_WITH_INTERNAL_TEXT = """\
## Problem

Accounting cannot print to the 2nd floor printer. Fixpilot's offline assistant matched the
keywords "print" and "queue".

## What we confirmed

No findings were recorded.

## Root cause

The library template Restart the Print Spooler matches what you described. A stuck job
blocked the print queue (confidence 70%). It worked on #4711 (a similar ticket).

## Resolution

We restarted the print spooler and cleared the queue. Printing works again. This note was
drafted by claude-sonnet-5-5 with 82% confidence.
"""


async def test_an_llm_draft_is_graded_before_the_engineer_sees_it(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers, title="Accounting cannot print")
    await _say(llm_client, llm_headers, s["id"], "I already checked DNS, it resolves fine")
    fake_anthropic.script(FakeAnthropic.text(NOTE_WITH_INTERNAL_TEXT))

    note = await _preview(llm_client, llm_headers, s["id"], "resolution-note")

    assert note["generator"] == "anthropic"
    markdown = note["markdown"]
    assert_customer_grade(markdown)
    assert "## What we confirmed" not in markdown  # only filler was in it
    assert "A stuck job blocked the print queue." in markdown
    assert "We restarted the print spooler and cleared the queue. Printing works again." in markdown
    assert "Accounting cannot print to the 2nd floor printer." in markdown
    # The customer's note is written from the bundle's customer view: no chat, no confidence.
    [resolution_request] = [
        r["body"] for r in fake_anthropic.requests if "resolution note" in str(r["body"]["system"])
    ]
    sent = json.dumps(resolution_request)
    assert "resolves fine" not in sent
    system = resolution_request["system"][0]["text"]
    assert "no keywords or matched words" in system and "No filler" in system


async def test_a_section_left_empty_by_grading_is_retried_with_the_reason():
    only_internal = NOTE_WITH_INTERNAL_TEXT.replace(
        "A stuck job\nblocked the print queue (confidence 70%). ", ""
    )
    good = "## Problem\n\nPrinting stopped.\n\n## Root cause\n\nA stuck job.\n\n## Resolution\n\nWe restarted the spooler.\n"
    llm = ScriptedLLM(only_internal, good)
    bundle = NoteBundle(session_title="Printing stopped", fixes=[spooler_fix("applied_success")])

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, bundle, llm)

    assert document.markdown == good and document.generator == "stubbed"
    retry = llm.requests[1].messages[-1]["content"]
    assert "section '## Root cause' is empty" in retry
    assert "a customer must not read them" in retry
    # The first answer's JSON for the model had no confidence and no matching text.
    first = llm.requests[0].messages[0]["content"]
    assert '"confidence":null' in first and "matches what you described" not in first


def test_grading_leaves_code_headings_and_plain_prose_alone():
    markdown = (
        "## Problem\n\nThe printer was offline after the update.\n\n## Resolution\n\n"
        "We ran a script.\n\n```\n# keyword match 70% confidence\n```\n"
    )
    assert customer_grade(markdown) == markdown


# --- the escalation package ----------------------------------------------------------------


async def test_escalation_package_draws_on_the_chat_and_lists_each_attempt_once(
    client, engineer_headers
):
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        await load_shipped_library(tx, account.id, shipped_library())
    s = await new_session(client, engineer_headers, title="Accounting cannot print")
    first = await _say(client, engineer_headers, s["id"], "Nobody can print, print queue stuck")
    fix_id = first["suggested_fix"]["id"]
    fixes = f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/{fix_id}"
    await client.post(f"{fixes}/apply", headers=engineer_headers)
    await client.patch(
        f"{fixes}/outcome", json={"outcome": "applied_failed"}, headers=engineer_headers
    )
    # Said only in the chat, never recorded as a fact.
    await _say(client, engineer_headers, s["id"], "I already checked DNS, it resolves fine.")
    await _say(client, engineer_headers, s["id"], "Print queue is still stuck, jobs will not print")
    await _say(client, engineer_headers, s["id"], "I also reinstalled the HP driver, no change")

    package = (await _preview(client, engineer_headers, s["id"], "escalation-package"))["markdown"]

    assert check_sections(package, ESCALATION_HEADINGS) == []
    assert '"I already checked DNS, it resolves fine."' in package
    assert '"Print queue is still stuck, jobs will not print"' in package
    tried = _section(package, "What we've tried")
    assert len(re.findall(r"^\d+\. Restart the Print Spooler", tried, re.MULTILINE)) == 1
    assert '"I also reinstalled the HP driver, no change"' in tried
    assert package.count("reinstalled the HP driver") == 1
    assert _section(package, "Problem").startswith("Waiting on: ")


async def test_the_llm_gets_the_chat_for_the_escalation_package(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    await insert_fix(llm_client, s["id"], status="applied_failed", applied_at=datetime.now(UTC))
    await _say(llm_client, llm_headers, s["id"], "I already checked DNS, it resolves fine")
    package = (
        "## Problem\n\nWaiting on: x\n\n## What we've confirmed\n\n- DNS resolves fine "
        "(engineer).\n\n## What we've tried\n\n1. x\n\n## Current hypothesis\n\nh\n\n"
        "## Suggested next steps\n\n1. n\n"
    )
    fake_anthropic.script(FakeAnthropic.text(package))

    await _preview(llm_client, llm_headers, s["id"], "escalation-package")

    body = fake_anthropic.requests[-1]["body"]
    bundle = json.loads(
        body["messages"][0]["content"].split("<bundle>\n")[1].split("\n</bundle>")[0]
    )
    assert "I already checked DNS, it resolves fine" in bundle["chat"]
    system = body["system"][0]["text"]
    assert '"Waiting on: …"' in system and "each attempt exactly once" in system


def test_each_attempt_is_listed_once_however_often_it_was_suggested():
    failed = FixInBundle(
        "Restart spooler",
        "Hung.",
        "applied_failed",
        applied=True,
        superseded=True,
        template_name="Spooler",
        parameters={"pc": "A"},
    )
    again = FixInBundle(
        "Restart spooler",
        "Hung.",
        "suggested",
        superseded=True,
        template_name="Spooler",
        parameters={"pc": "A"},
    )
    once_more = FixInBundle(
        "Restart spooler",
        "Hung.",
        "suggested",
        active=True,
        template_name="Spooler",
        parameters={"pc": "A"},
    )
    twice = FixInBundle("Update firmware", "Bug.", "suggested", superseded=True)
    twice_again = FixInBundle("Update firmware", "Bug.", "dismissed", superseded=True)
    bundle = NoteBundle(
        session_title="Printing", fixes=[failed, twice, again, twice_again, once_more]
    )

    package = compose_escalation_package(bundle)

    tried = _section(package, "What we've tried")
    assert tried.count("Restart spooler") == 1 and tried.count("Update firmware") == 1
    assert "1. Restart spooler (superseded) — didn't work." in tried
    assert "Suggested again afterwards; not applied again." in tried
    assert "2. Update firmware — dismissed.\n   - Suggested 2 times." in tried
    assert "already didn't work in this session" in _section(package, "Current hypothesis")
    assert waiting_on(bundle).startswith('a decision on "Restart spooler"')


@pytest.mark.parametrize(
    ("fixes", "open_question", "expected"),
    [
        (
            [FixInBundle("A", "", "applied_pending", active=True, pending_reason="The user")],
            "Which printer?",
            'the user, to confirm whether "A" worked',
        ),
        (
            [FixInBundle("A", "", "suggested", active=True, applied=True)],
            None,
            'the outcome of "A" (applied, result not reported yet)',
        ),
        (
            [FixInBundle("A", "", "suggested", active=True)],
            "What changed recently?",
            'an answer to the open question "What changed recently?"',
        ),
        (
            [FixInBundle("A", "", "applied_partial", active=True, partial_notes="Tray 2.")],
            None,
            'a fix for what "A" left: Tray 2',
        ),
        (
            [FixInBundle("A", "", "suggested", active=True)],
            None,
            'the suggested fix "A" to be applied or turned down',
        ),
        (
            [FixInBundle("A", "", "applied_success", active=True)],
            None,
            'the customer\'s confirmation: "A" worked',
        ),
        (
            [FixInBundle("A", "", "applied_failed", active=True)],
            None,
            "nothing in progress: no fix is pending, a new approach is needed",
        ),
    ],
    ids=["pending", "applied", "question", "partial", "suggested", "worked", "failed"],
)
def test_the_package_leads_with_what_is_waited_on(fixes, open_question, expected):
    bundle = NoteBundle(session_title="Printing", fixes=fixes, open_question=open_question)
    assert waiting_on(bundle) == expected
    first_line = _section(compose_escalation_package(bundle), "Problem").splitlines()[0]
    assert first_line == f"Waiting on: {expected}."


def test_the_chat_is_read_for_what_was_checked_seen_and_tried():
    recorded = FixInBundle("Restart the Print Spooler and clear its queue", "", "applied_failed")
    reading = read_chat(
        [
            "Please help, nobody in accounting can print",
            "I already checked DNS, it resolves fine. Can you write a script to list printers?",
            "tried clearing the queue, no luck",  # the recorded fix: listed there
            "that didn't help",  # points back at a listed fix
            "I also reinstalled the HP driver already, no change",
            "just help please",
            "nobody in accounting can print",  # said before
        ],
        [recorded],
    )
    assert reading.checked == ["I already checked DNS, it resolves fine."]
    assert reading.seen == ["nobody in accounting can print"]
    assert reading.tried == ["I also reinstalled the HP driver already, no change"]


async def _say(client, headers, sid, content):
    resp = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": content}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _preview(client, headers, sid, kind):
    resp = await client.post(f"/api/v1/ai-sessions/{sid}/{kind}/preview", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0].strip()
