"""Resolution note and escalation package previews: headings, grounding, the cache with its
single flight, persistence across instances, and redaction."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from plugin.app import create_app
from plugin.features.notes.cache import CachedDocument, PreviewCache
from plugin.features.notes.sections import (
    ESCALATION_HEADINGS,
    RESOLUTION_HEADINGS,
    RESOLUTION_OPTIONAL,
    check_sections,
)
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, insert_fix, new_session

GOOD_NOTE = (
    "## Problem\nPrinting stopped.\n\n## What we confirmed\n- Spooler stopped.\n\n"
    "## Root cause\nA stuck job.\n\n## Resolution\nWe restarted the spooler.\n"
)
NOTE_WITHOUT_ROOT_CAUSE = (
    "## Problem\nPrinting stopped.\n\n## What we confirmed\n- Spooler stopped.\n\n"
    "## Resolution\nWe restarted the spooler.\n"
)


async def _preview(client, headers, sid, kind="resolution-note"):
    resp = await client.post(f"/api/v1/ai-sessions/{sid}/{kind}/preview", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _fact(client, headers, sid, text):
    resp = await client.post(
        f"/api/v1/ai-sessions/{sid}/facts", json={"text": text}, headers=headers
    )
    assert resp.status == 201


async def test_offline_documents_have_exactly_their_headings_and_frame_pending(
    client, engineer_headers
):
    s = await new_session(client, engineer_headers)
    await _fact(client, engineer_headers, s["id"], "Spooler service crashes on start")
    await insert_fix(
        client,
        s["id"],
        title="Clear the queue",
        status="applied_failed",
        applied_at=datetime.now(UTC),
        superseded_at=datetime.now(UTC),
    )
    await insert_fix(
        client,
        s["id"],
        title="Replace the driver",
        status="applied_partial",
        applied_at=datetime.now(UTC),
        partial_notes="Tray 2 still jams",
        superseded_at=datetime.now(UTC),
    )
    await insert_fix(
        client,
        s["id"],
        title="Restart the print spooler",
        status="applied_pending",
        applied_at=datetime.now(UTC),
        pending_reason="the user to print after lunch",
    )

    note = await _preview(client, engineer_headers, s["id"])
    assert note["generator"] == "offline" and note["from_cache"] is False
    assert check_sections(note["markdown"], RESOLUTION_HEADINGS) == []
    assert "provisional" in note["markdown"].lower()
    assert "the user to print after lunch" in note["markdown"]

    package = await _preview(client, engineer_headers, s["id"], "escalation-package")
    assert check_sections(package["markdown"], ESCALATION_HEADINGS) == []
    tried = package["markdown"].split("## What we've tried")[1].split("## Current hypothesis")[0]
    assert (
        "Clear the queue" in tried
        and "Replace the driver" in tried
        and "Tray 2 still jams" in tried
    )
    hypothesis = (
        package["markdown"].split("## Current hypothesis")[1].split("## Suggested next steps")[0]
    )
    assert hypothesis.strip().splitlines()[0].find("Restart the print spooler") >= 0
    assert "the user to print after lunch" in hypothesis


async def test_cache_by_state_version_both_kinds(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE))
    first = await _preview(llm_client, llm_headers, s["id"])
    assert first["generator"] == "anthropic" and first["from_cache"] is False
    again = await _preview(llm_client, llm_headers, s["id"])
    assert again == {**first, "from_cache": True}
    assert len(fake_anthropic.requests) == 1

    package_text = (
        "## Problem\nx\n\n## What we've confirmed\ny\n\n## What we've tried\nz\n\n"
        "## Current hypothesis\nh\n\n## Suggested next steps\nn\n"
    )
    fake_anthropic.script(FakeAnthropic.text(package_text))
    await _preview(llm_client, llm_headers, s["id"], "escalation-package")
    assert (await _preview(llm_client, llm_headers, s["id"], "escalation-package"))["from_cache"]
    assert (await _preview(llm_client, llm_headers, s["id"]))["from_cache"]
    assert len(fake_anthropic.requests) == 2

    await _fact(llm_client, llm_headers, s["id"], "Queue had 300 jobs")
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE))
    after = await _preview(llm_client, llm_headers, s["id"])
    assert after["from_cache"] is False and after["state_version"] == first["state_version"] + 1
    assert len(fake_anthropic.requests) == 3


async def test_twenty_concurrent_previews_make_one_llm_call(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE, chunks=None))
    results = await asyncio.gather(*[_preview(llm_client, llm_headers, s["id"]) for _ in range(20)])
    assert len(fake_anthropic.requests) == 1
    assert len({r["markdown"] for r in results}) == 1
    assert sum(not r["from_cache"] for r in results) == 1


async def test_a_new_instance_reuses_the_stored_preview(
    llm_client, llm_headers, fake_anthropic, aiohttp_client, make_settings
):
    from pydantic import SecretStr

    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE))
    first = await _preview(llm_client, llm_headers, s["id"])
    other = await aiohttp_client(
        create_app(
            make_settings(
                anthropic_api_key=SecretStr("sk-ant-test-0000"),
                anthropic_base_url=fake_anthropic.base_url,
            )
        )
    )
    again = await _preview(other, llm_headers, s["id"])
    assert again["from_cache"] is True and again["markdown"] == first["markdown"]
    assert len(fake_anthropic.requests) == 1


async def test_lru_stays_under_its_cap(database_url):
    from plugin.kernel.db import Database

    cache = PreviewCache(Database(database_url), cap=5000)
    doc = CachedDocument("## Problem\n", "offline")
    for i in range(20_000):
        cache.remember(("resolution_note", i, 1), doc)
        assert len(cache) <= 5000
    assert len(cache) == 5000
    await cache.db.dispose()


async def test_secrets_never_reach_the_llm_nor_the_documents(
    llm_client, llm_headers, fake_anthropic
):
    from plugin.features.scripts.models import ScriptGeneration, ScriptTemplate

    s = await new_session(llm_client, llm_headers)
    await _fact(
        llm_client, llm_headers, s["id"], "App config has password=Hunter2! for the SQL login"
    )
    async with db_of(llm_client).write() as db:
        template = ScriptTemplate(
            account_id=1,
            slug="reset-pw",
            name="Reset AD password",
            language="powershell",
            body="Set-ADAccountPassword -Identity {{user}} -NewPassword {{password}}",
            parameters_schema=[
                {"name": "user", "type": "string"},
                {"name": "password", "type": "string", "sensitive": True},
            ],
        )
        db.add(template)
        await db.flush()
        db.add(
            ScriptGeneration(
                account_id=1,
                session_id=s["id"],
                template_id=template.id,
                parameters_redacted={"user": "jdoe", "password": "[REDACTED]"},
                rendered_script_redacted="Set-ADAccountPassword -Identity 'jdoe' -NewPassword [REDACTED]",
            )
        )
        template_id = template.id
    await insert_fix(
        llm_client,
        s["id"],
        template_id=template_id,
        ai_drafted_parameters={"user": "jdoe", "password": "Summer2026!x"},
    )
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE))
    note = await _preview(llm_client, llm_headers, s["id"])
    fake_anthropic.script(
        FakeAnthropic.error(500), FakeAnthropic.error(500), FakeAnthropic.error(500)
    )
    package = await _preview(llm_client, llm_headers, s["id"], "escalation-package")
    sent = json.dumps([r["body"] for r in fake_anthropic.requests])
    for secret in ("Hunter2!", "Summer2026!x"):
        assert secret not in sent
        assert secret not in note["markdown"] and secret not in package["markdown"]
    assert "[REDACTED]" in sent


async def test_missing_heading_twice_falls_back_to_offline(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(
        FakeAnthropic.text(NOTE_WITHOUT_ROOT_CAUSE), FakeAnthropic.text(NOTE_WITHOUT_ROOT_CAUSE)
    )
    note = await _preview(llm_client, llm_headers, s["id"])
    assert note["generator"] == "offline"
    # No facts: the customer's note leaves "What we confirmed" out.
    assert check_sections(note["markdown"], RESOLUTION_HEADINGS, RESOLUTION_OPTIONAL) == []
    assert "## What we confirmed" not in note["markdown"]
    assert len(fake_anthropic.requests) == 2
    assert "Root cause" in fake_anthropic.requests[1]["body"]["messages"][-1]["content"]


async def test_missing_heading_once_is_corrected(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(
        FakeAnthropic.text(NOTE_WITHOUT_ROOT_CAUSE), FakeAnthropic.text(GOOD_NOTE)
    )
    note = await _preview(llm_client, llm_headers, s["id"])
    assert note["generator"] == "anthropic"
    assert "## Root cause" in note["markdown"]


async def test_llm_down_gives_the_offline_version_and_retries_later(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(*[FakeAnthropic.error(503)] * 3)
    note = await _preview(llm_client, llm_headers, s["id"])
    assert note["generator"] == "offline"
    # No facts: the customer's note leaves "What we confirmed" out.
    assert check_sections(note["markdown"], RESOLUTION_HEADINGS, RESOLUTION_OPTIONAL) == []
    assert "## What we confirmed" not in note["markdown"]
    # The stand-in is not cached: once the LLM is back, the same state gets a real draft.
    fake_anthropic.script(FakeAnthropic.text(GOOD_NOTE))
    note = await _preview(llm_client, llm_headers, s["id"])
    assert note["generator"] == "anthropic" and note["from_cache"] is False


async def test_preview_of_unknown_session_is_404(client, engineer_headers):
    resp = await client.post(
        "/api/v1/ai-sessions/999/resolution-note/preview", headers=engineer_headers
    )
    assert resp.status == 404
