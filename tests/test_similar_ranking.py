"""What worked on similar tickets feeds the suggestions: the template match and the offline
assistant rank by text match and by each template's record on the most similar tickets;
a fix that failed there is not suggested first; the chat gets the top matches as evidence."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from plugin.features.scripts.models import ScriptTemplate
from plugin.features.scripts.track_record import matching_templates
from plugin.features.search.documents import WorkDocument
from plugin.features.search.index import put_documents
from plugin.features.search.service import similar_for_prompt
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.db import utcnow
from plugin.kernel.states import WorkOutcome, WorkSource
from providers.llm.base import LLMRequest
from providers.llm.offline import OfflineProvider
from tests.helpers import db_of, new_session

MARKER = re.compile(r"\[SUGGEST_FIX\](.*?)\[/SUGGEST_FIX\]", re.DOTALL)

SPOOLER = {  # matches "print queue stuck" best on words alone
    "id": 7,
    "name": "Reset print spooler",
    "description": "Stops the spooler service, clears stuck print jobs and starts it again.",
    "keywords": ["print queue", "spooler", "printer", "stuck"],
}
DRIVER = {
    "id": 8,
    "name": "Reinstall printer driver",
    "description": "Removes the printer driver package and installs the current one.",
    "keywords": ["printer", "print queue", "driver"],
}


def _offline_choice(templates) -> dict:
    request = LLMRequest(
        kind="chat",
        system="",
        messages=[{"role": "user", "content": "printer stuck, print queue jammed"}],
        context={"templates": templates},
    )
    return OfflineProvider()._compose(request)


def _suggestion(text: str) -> dict:
    [block] = MARKER.findall(text)
    return json.loads(block)


def test_words_alone_pick_the_spooler():
    assert _suggestion(_offline_choice([SPOOLER, DRIVER]))["template_id"] == 7


def test_a_fix_that_failed_on_similar_tickets_is_not_suggested_first():
    failed = {
        **SPOOLER,
        "similar_record": {"worked": 0, "failed": 2, "failed_on": ["#4711", "#4820"]},
    }
    text = _offline_choice([failed, DRIVER])
    assert _suggestion(text)["template_id"] == 8
    assert "Other possible matches: **Reset print spooler**" in text


def test_a_fix_that_worked_on_similar_tickets_says_so_and_moves_up():
    worked = {
        **DRIVER,
        "similar_record": {"worked": 2, "failed": 0, "worked_on": ["#4711", "#4820"]},
    }
    text = _offline_choice([SPOOLER, worked])
    suggestion = _suggestion(text)
    assert suggestion["template_id"] == 8
    assert "worked on #4711 and #4820" in suggestion["summary"]


async def _templates(tx, account_id: int) -> dict[str, int]:
    ids = {}
    for spec in (SPOOLER, DRIVER):
        template = ScriptTemplate(
            account_id=account_id,
            slug=spec["name"].lower().replace(" ", "-"),
            name=spec["name"],
            description=spec["description"],
            keywords=spec["keywords"],
            language="powershell",
            body="Write-Output 'ok'",
            parameters_schema=[],
        )
        tx.add(template)
        await tx.flush()
        ids[spec["name"]] = template.id
    return ids


def _past(ticket: int, summary: str, fixes: list[tuple[str, int, str]], days: int = 30):
    return WorkDocument(
        doc_key=f"ticket:{ticket}",
        source=WorkSource.SESSION,
        summary=summary,
        outcome=WorkOutcome.RESOLVED,
        closed_at=utcnow() - timedelta(days=days),
        psa_ticket_id=ticket,
        problem=summary,
        fixes=[{"title": t, "template_id": tid, "status": s, "notes": ""} for t, tid, s in fixes],
        resolution="Printing works again.",
    )


async def test_the_template_match_prefers_what_worked_on_similar_tickets(client, engineer_headers):
    async with db_of(client).write() as tx:
        ids = await _templates(tx, 1)
        spooler, driver = ids["Reset print spooler"], ids["Reinstall printer driver"]
        await put_documents(
            tx,
            1,
            [
                _past(
                    4711,
                    "print queue stuck, nothing prints at reception",
                    [
                        ("Reset print spooler", spooler, "applied_failed"),
                        ("Reinstall printer driver", driver, "applied_success"),
                    ],
                ),
                _past(
                    4820,
                    "printer queue jammed after the update",
                    [
                        ("Reset print spooler", spooler, "applied_failed"),
                        ("Reinstall printer driver", driver, "applied_success"),
                    ],
                ),
                _past(
                    5120,
                    "Outlook keeps asking for the password",
                    [("Reset print spooler", spooler, "applied_success")],
                ),
            ],
        )
    async with db_of(client).read() as db:
        ranked = await matching_templates(db, 1, "printer stuck, print queue jammed")
    assert [t["id"] for t in ranked] == [driver, spooler]
    assert sorted(ranked[0]["similar_record"]["worked_on"]) == ["#4711", "#4820"]
    assert ranked[1]["similar_record"]["failed"] == 2

    s = await new_session(client, engineer_headers, "Front desk")
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "printer stuck, print queue jammed"},
        headers=engineer_headers,
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["suggested_fix"]["template_id"] == driver
    assert re.search(r"worked on #(4711|4820) and #(4711|4820)", body["suggested_fix"]["summary"])


async def test_the_prompt_gets_the_top_three_as_evidence(client, engineer_headers):
    async with db_of(client).write() as tx:
        ids = await _templates(tx, 1)
        driver = ids["Reinstall printer driver"]
        await put_documents(
            tx,
            1,
            [
                _past(
                    4711,
                    "print queue stuck, nothing prints at reception",
                    [
                        ("Clear the queue by hand", None, "applied_failed"),
                        ("Reinstall printer driver", driver, "applied_success"),
                    ],
                ),
                _past(
                    4820,
                    "printer queue jammed after the update",
                    [("Reinstall the driver", driver, "applied_success")],
                    days=3,
                ),
                _past(
                    4901, "printer prints blank pages", [("Replace toner", None, "applied_success")]
                ),
                _past(
                    4902,
                    "printer offline for everyone on floor 2",
                    [("Set a static IP", None, "applied_success")],
                ),
                _past(
                    5120,
                    "Outlook keeps asking for the password",
                    [("Reset BrokerPlugin", None, "applied_success")],
                ),
            ],
        )
    s = await new_session(client, engineer_headers, "the printer queue is jammed again")
    async with db_of(client).read() as db:
        evidence = await similar_for_prompt(db, await get_ai_session(db, 1, s["id"]))
    assert len(evidence) == 3
    assert {e.ticket for e in evidence[:2]} == {"#4711", "#4820"}
    by_ticket = {e.ticket: e for e in evidence}
    assert by_ticket["#4711"].worked == "Reinstall printer driver"
    assert by_ticket["#4711"].failed == ["Clear the queue by hand"]
    assert by_ticket["#4711"].worked_on in (
        "worked on #4711 and #4820",
        "worked on #4820 and #4711",
    )
    assert by_ticket["#4820"].worked_on == by_ticket["#4711"].worked_on  # same template
    assert by_ticket["#4820"].age_days == 3
    prompt = by_ticket["#4711"].as_prompt()
    assert prompt["worked_on"].startswith("worked on #") and "template_id" in prompt
    assert all(e.ticket != "#5120" for e in evidence)
