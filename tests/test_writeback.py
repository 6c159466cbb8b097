"""Resolve and escalate: notes and verified status changes against the ConnectWise simulator
over real HTTP, the resumable outbox, and the admin status settings."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from tests.helpers import new_session

TICKET = 5001  # Help Desk board (1): 4 = Resolved (closed), 5 = Escalated, 7 = inactive
NOTE = "## Problem\nPrinting stopped.\n\n## What we confirmed\n- x\n\n## Root cause\ny\n\n## Resolution\nz\n"


def _ours(cw_sim) -> list[dict]:
    """The notes Fixpilot posted (the demo tickets start with the customer's own note)."""
    # Posted as plain text: ConnectWise notes do not render Markdown.
    return [n for n in cw_sim.notes.get(TICKET, []) if n["text"].startswith("Problem\n")]


async def _configure(client, headers, **prefs):
    resp = await client.put("/api/v1/settings", json={"preferences": prefs}, headers=headers)
    assert resp.status == 200, await resp.text()


async def _post(client, headers, sid, kind="resolution-note", markdown=NOTE):
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/{kind}/post", json={"markdown": markdown}, headers=headers
    )


async def test_local_resolve_and_escalate(client, engineer_headers):
    for kind, outcome in (
        ("resolution-note", "resolved_local"),
        ("escalation-package", "escalated_local"),
    ):
        s = await new_session(client, engineer_headers)
        resp = await _post(client, engineer_headers, s["id"], kind)
        body = await resp.json()
        assert resp.status == 200, body
        assert body["outcome"] == outcome and body["note"] is None and body["status"] is None
        assert body["status_transition_skipped_reason"]
        session = await (
            await client.get(f"/api/v1/ai-sessions/{s['id']}", headers=engineer_headers)
        ).json()
        assert session["status"] == outcome
        assert (await _post(client, engineer_headers, s["id"], kind)).status == 409


async def test_resolve_posts_a_resolution_note_and_verifies_the_status(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    assert s["ticket"]["summary"].startswith("Front desk printer")
    resp = await _post(cw_client, cw_engineer_headers, s["id"])
    body = await resp.json()
    assert resp.status == 200, body
    assert body["outcome"] == "resolved"
    assert body["status"] == {"id": 4, "name": "Resolved", "verified": True}
    notes = _ours(cw_sim)
    assert len(notes) == 1
    assert notes[0]["resolutionFlag"] is True
    assert notes[0]["internalAnalysisFlag"] is False and notes[0]["detailDescriptionFlag"] is False
    assert str(notes[0]["id"]) == body["note"]["external_id"]
    assert cw_sim.tickets[TICKET]["status"]["id"] == 4
    assert (await _post(cw_client, cw_engineer_headers, s["id"])).status == 409
    assert (
        await _post(cw_client, cw_engineer_headers, s["id"], "escalation-package")
    ).status == 409
    assert len(_ours(cw_sim)) == 1


async def test_escalate_posts_only_an_internal_note(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_escalated_status_id=5)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    body = await (await _post(cw_client, cw_engineer_headers, s["id"], "escalation-package")).json()
    assert body["outcome"] == "escalated" and body["status"]["id"] == 5
    note = _ours(cw_sim)[0]
    assert note["internalAnalysisFlag"] is True
    assert note["resolutionFlag"] is False and note["detailDescriptionFlag"] is False


async def test_board_override_wins(cw_client, cw_admin_headers, cw_engineer_headers, cw_sim):
    await _configure(
        cw_client, cw_admin_headers, cw_resolved_status_id=4, board_overrides={"1": {"resolved": 6}}
    )
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["status"]["id"] == 6 and cw_sim.tickets[TICKET]["status"]["id"] == 6


async def test_status_from_another_board_is_502_with_expected_and_actual(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    # 14 is "Resolved" on the Escalations board: ConnectWise answers 200 and ignores it.
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=14)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    resp = await _post(cw_client, cw_engineer_headers, s["id"])
    body = await resp.json()
    assert resp.status == 502
    assert body["error"]["code"] == "status_not_applied"
    assert body["error"]["details"]["expected"]["id"] == 14
    assert body["error"]["details"]["actual"]["id"] == 1
    session = await (
        await cw_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=cw_engineer_headers)
    ).json()
    assert session["status"] == "active"
    assert session["latest_writeback"]["state"] == "failed"
    assert session["latest_writeback"]["last_error"]

    # The admin fixes the setting; the engineer retries: the status moves, no second note.
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved" and body["status"]["id"] == 4
    assert len(_ours(cw_sim)) == 1


async def test_workflow_rule_reverting_the_status_is_reported(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    cw_sim.workflow_revert_status = {4: 2}
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    resp = await _post(cw_client, cw_engineer_headers, s["id"])
    body = await resp.json()
    assert resp.status == 502
    assert body["error"]["details"]["actual"]["id"] == 2


async def test_transition_skipped_when_unconfigured(cw_client, cw_engineer_headers, cw_sim):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved" and body["status"] is None
    assert "No resolved status is configured" in body["status_transition_skipped_reason"]
    assert cw_sim.tickets[TICKET]["status"]["id"] == 1
    assert len(_ours(cw_sim)) == 1


async def test_dropped_connection_after_the_note_then_retry_posts_one_note(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.drop_after_note_stored = 1
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "queued", body
    assert len(_ours(cw_sim)) == 1  # it did land, though we could not know

    from plugin.features.writeback.service import PSAWritebackService
    from tests.helpers import db_of

    _ = db_of  # the engineer's retry is the same route
    from sqlalchemy import update

    from plugin.features.writeback.models import Writeback

    async with db_of(cw_client).write() as db:
        await db.execute(update(Writeback).values(lease_until=None))
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved", body
    assert len(_ours(cw_sim)) == 1
    assert PSAWritebackService  # the service that resumed it


async def test_psa_down_queues_and_the_worker_finishes(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.down = True
    resp = await _post(cw_client, cw_engineer_headers, s["id"])
    body = await resp.json()
    assert resp.status == 200 and body["outcome"] == "queued"
    session = await (
        await cw_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=cw_engineer_headers)
    ).json()
    assert session["latest_writeback"]["state"] == "waiting_retry"
    assert _ours(cw_sim) == []

    cw_sim.faults.down = False
    from sqlalchemy import update

    from plugin.features.writeback.models import Writeback
    from plugin.kernel.db import utcnow
    from tests.helpers import db_of

    async with db_of(cw_client).write() as db:  # due now rather than after the backoff
        await db.execute(update(Writeback).values(next_attempt_at=utcnow()))
    for _ in range(100):
        session = await (
            await cw_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=cw_engineer_headers)
        ).json()
        if session["status"] == "resolved":
            break
        await asyncio.sleep(0.05)
    assert session["status"] == "resolved"
    assert session["latest_writeback"]["state"] == "done"
    assert len(_ours(cw_sim)) == 1
    assert cw_sim.tickets[TICKET]["status"]["id"] == 4


async def test_rate_limit_with_retry_after_is_honoured(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers, cw_resolved_status_id=4)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.fail_next(429, retry_after=1, method="POST", path="notes")
    started = time.monotonic()
    body = await (await _post(cw_client, cw_engineer_headers, s["id"])).json()
    elapsed = time.monotonic() - started
    assert body["outcome"] == "resolved", body
    assert 0.9 <= elapsed < 5
    assert len(_ours(cw_sim)) == 1


async def test_a_secret_in_the_final_customer_note_is_422_naming_the_span(
    cw_client, cw_engineer_headers, cw_sim
):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    document = NOTE + "\nWe reset it with -Password 'Winter2026!'\n"
    resp = await _post(cw_client, cw_engineer_headers, s["id"], markdown=document)
    body = await resp.json()
    assert resp.status == 422 and body["error"]["code"] == "secret_detected"
    (span,) = body["error"]["details"]["spans"]
    assert document.strip()[span["start"] : span["end"]] == "Winter2026!"
    assert "Winter2026!" not in await resp.text()  # named by position, never by value
    assert _ours(cw_sim) == []

    allowed = await cw_client.post(
        f"/api/v1/ai-sessions/{s['id']}/resolution-note/post",
        json={"markdown": document, "allow_spans": [{"start": span["start"], "end": span["end"]}]},
        headers=cw_engineer_headers,
    )
    assert allowed.status == 200, await allowed.text()
    assert "Winter2026!" in _ours(cw_sim)[0]["text"]  # the engineer confirmed it
    from plugin.features.writeback.models import Writeback
    from tests.helpers import db_of

    async with db_of(cw_client).read() as db:
        (row,) = (await db.execute(select(Writeback))).scalars().all()
    assert row.allowed_spans == [{"start": span["start"], "end": span["end"], "kind": span["kind"]}]


async def test_an_internal_note_is_scrubbed_not_blocked(cw_client, cw_engineer_headers, cw_sim):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    package = NOTE + "\nWe reset it with -Password 'Winter2026!'\n"
    resp = await _post(cw_client, cw_engineer_headers, s["id"], "escalation-package", package)
    assert resp.status == 200, await resp.text()
    (note,) = [n for n in cw_sim.notes[TICKET] if n["text"].startswith("Problem")]
    assert "Winter2026!" not in note["text"] and "[REDACTED]" in note["text"]


async def test_post_without_markdown_uses_the_preview(cw_client, cw_engineer_headers, cw_sim):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    resp = await cw_client.post(
        f"/api/v1/ai-sessions/{s['id']}/resolution-note/post", json={}, headers=cw_engineer_headers
    )
    assert resp.status == 200
    assert _ours(cw_sim)[0]["text"].startswith("Problem\n")


async def test_unknown_or_inactive_status_in_settings_is_422(cw_client, cw_admin_headers):
    resp = await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 999}},
        headers=cw_admin_headers,
    )
    assert resp.status == 422
    assert "cw_resolved_status_id" in (await resp.json())["error"]["details"]["fields"]
    resp = await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"board_overrides": {"1": {"resolved": 7}}}},
        headers=cw_admin_headers,
    )
    assert resp.status == 422
    assert (
        "inactive"
        in (await resp.json())["error"]["details"]["fields"]["board_overrides.1.resolved"]
    )
    resp = await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"board_overrides": {"1": {"resolved": 14}}}},
        headers=cw_admin_headers,
    )
    assert resp.status == 422


async def test_board_statuses_route(cw_client, cw_admin_headers, cw_engineer_headers):
    resp = await cw_client.get("/api/v1/psa/boards/1/statuses", headers=cw_admin_headers)
    body = await resp.json()
    assert resp.status == 200
    assert {s["name"] for s in body["items"]} >= {"New", "Resolved", "Escalated"}
    # Engineers read them too (the settings screen shows them); only admins change settings.
    assert (
        await cw_client.get("/api/v1/psa/boards/1/statuses", headers=cw_engineer_headers)
    ).status == 200
    assert (
        await cw_client.get("/api/v1/psa/boards/99/statuses", headers=cw_admin_headers)
    ).status == 404


async def test_unknown_ticket_is_422(cw_client, cw_engineer_headers):
    resp = await cw_client.post(
        "/api/v1/ai-sessions",
        json={"title": "x", "psa_ticket_id": 424242},
        headers=cw_engineer_headers,
    )
    assert resp.status == 422
    assert "psa_ticket_id" in (await resp.json())["error"]["details"]["fields"]


async def test_one_writeback_at_a_time_per_session(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.down = True
    assert (await (await _post(cw_client, cw_engineer_headers, s["id"])).json())[
        "outcome"
    ] == "queued"
    resp = await _post(cw_client, cw_engineer_headers, s["id"], "escalation-package")
    assert resp.status == 409
    assert (await resp.json())["error"]["details"]["kind"] == "resolution"


async def test_a_runner_whose_lease_was_taken_over_writes_nothing(
    cw_client, cw_engineer_headers, cw_sim
):
    """The worker reclaims an abandoned writeback: the old runner's late writes are refused,
    and the new runner looks for the note before posting it again."""
    from sqlalchemy import select, update

    from plugin.features.writeback.models import Writeback
    from plugin.features.writeback.service import PSAWritebackService
    from plugin.features.writeback.worker import run_due
    from plugin.kernel.db import utcnow
    from tests.helpers import db_of, resources_of

    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    services = resources_of(cw_client.app)
    service = PSAWritebackService(services.db, services.psa)
    async with db_of(cw_client).write() as db:
        row = Writeback(
            account_id=1,
            session_id=s["id"],
            kind="resolution",
            ticket_id=TICKET,
            markdown=NOTE,
            state="pending",
            attempts=1,
            lease_until=utcnow(),
        )
        db.add(row)
        await db.flush()
        wb_id = row.id
    # The first runner posts the note, then stalls past its lease ...
    psa = services.psa.for_account(await _account(cw_client))
    from plugin.features.writeback.plain_text import markdown_to_plain
    from providers.psa import NoteKind

    await psa.add_note(TICKET, markdown_to_plain(NOTE.strip()), NoteKind.RESOLUTION)
    # ... the worker takes the writeback over and finishes it without a second note ...
    # (the app's own worker may get there first: either way, one claim takes it over)
    await run_due(services.db, services.psa, services.metrics)
    for _ in range(100):
        async with db_of(cw_client).read() as db:
            row = (await db.execute(select(Writeback).where(Writeback.id == wb_id))).scalar_one()
        if row.state == "done":
            break
        await asyncio.sleep(0.05)
    assert row.state == "done" and row.attempts == 2
    assert len(_ours(cw_sim)) == 1
    # ... and the stale runner (attempts=1) can no longer write.
    async with db_of(cw_client).write() as db:
        await db.execute(update(Writeback).where(Writeback.id == wb_id).values(state="pending"))
    stale = Writeback(id=wb_id, attempts=1, kind="resolution")
    import pytest

    from plugin.features.writeback.service import LeaseLost

    with pytest.raises(LeaseLost):
        await service._save(stale, state="note_posted")


async def _account(client):
    from plugin.kernel.tenancy import get_account_by_slug
    from tests.helpers import db_of

    async with db_of(client).read() as db:
        return await get_account_by_slug(db, "default")


async def test_account_without_psa_resolves_locally_even_with_a_ticket_id(client, engineer_headers):
    s = await new_session(client, engineer_headers, psa_ticket_id=5001)
    body = await (await _post(client, engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved_local"
    assert "no PSA connection" in body["status_transition_skipped_reason"]
