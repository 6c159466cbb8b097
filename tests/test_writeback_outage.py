"""D4: a writeback is never abandoned, whatever the outage; a refused one is reported as
failed, never as queued. And the reliability run: the PSA down during 20 resolves."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from plugin.features.writeback import queue as writeback_queue
from plugin.features.writeback.models import Writeback
from plugin.features.writeback.worker import run_due
from plugin.kernel.db import utcnow
from plugin.kernel.queue import exponential_backoff
from tests.helpers import db_of, new_session, resources_of

TICKET = 5001
NOTE = "## Problem\nPrinting stopped.\n\n## Resolution\nRestarted the spooler.\n"


async def _resolve(client, headers, sid, markdown=NOTE):
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/resolution-note/post",
        json={"markdown": markdown},
        headers=headers,
    )


async def _configure(client, headers) -> None:
    resp = await client.put(
        "/api/v1/settings", json={"preferences": {"cw_resolved_status_id": 4}}, headers=headers
    )
    assert resp.status == 200, await resp.text()


async def _rows(client) -> list[Writeback]:
    async with db_of(client).read() as db:
        return list((await db.execute(select(Writeback).order_by(Writeback.id))).scalars())


async def _until(predicate, client, seconds: float = 10.0) -> list[Writeback]:
    deadline = time.monotonic() + seconds
    while True:
        rows = await _rows(client)
        if predicate(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_d4_writebacks_are_never_abandoned_however_long_the_outage(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.down = True
    body = await (await _resolve(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "queued" and body["state"] == "waiting_retry"

    # Far past the old limit of 8 attempts: still waiting, the wait capped at 15 minutes.
    async with db_of(cw_client).write() as db:
        await db.execute(update(Writeback).values(attempts=40, next_attempt_at=utcnow()))
    (row,) = await _until(
        lambda rows: rows[0].attempts > 40 and rows[0].state == "waiting_retry", cw_client
    )
    assert row.state == "waiting_retry" and row.attempts == 41
    wait = row.next_attempt_at - row.updated_at
    assert timedelta(minutes=15) - timedelta(seconds=5) <= wait <= timedelta(minutes=15)
    assert row.last_error

    cw_sim.faults.down = False
    async with db_of(cw_client).write() as db:
        await db.execute(update(Writeback).values(next_attempt_at=utcnow()))
    (row,) = await _until(lambda rows: rows[0].state == "done", cw_client)
    assert row.state == "done" and row.verified_status_id == 4
    ours = [n for n in cw_sim.notes[TICKET] if n["text"].startswith("Problem")]
    assert len(ours) == 1  # the dropped first POST was looked for before posting again


async def test_d4_a_refused_writeback_is_reported_failed_not_queued(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _configure(cw_client, cw_admin_headers)
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.fail_next(400, method="POST", path="notes")
    resp = await _resolve(cw_client, cw_engineer_headers, s["id"])
    body = await resp.json()
    assert resp.status == 502 and body["error"]["code"] == "psa_error"
    session = await (
        await cw_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=cw_engineer_headers)
    ).json()
    assert session["latest_writeback"]["state"] == "failed"
    assert session["status"] == "active"
    # Nothing retries a refusal on its own: the worker leaves it for the engineer or an admin.
    services = resources_of(cw_client.app)
    assert await run_due(services.db, services.psa, services.metrics) == 0
    (row,) = await _rows(cw_client)
    assert row.state == "failed" and row.attempts == 1
    # The engineer's retry posts it.
    body = await (await _resolve(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved" and body["state"] == "done"


@pytest.fixture
def short_backoff(monkeypatch):
    monkeypatch.setattr(
        writeback_queue,
        "RETRY_BACKOFF",
        exponential_backoff(timedelta(milliseconds=50), timedelta(milliseconds=400)),
    )


async def test_psa_down_during_20_resolves_each_ticket_gets_one_note_and_a_verified_status(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim, short_backoff
):
    """ConnectWise goes down (half the resolves see connections closed, the others 503)
    while 20 sessions are resolved; the writeback worker, retrying meanwhile, finishes every
    one once it is back: one note per ticket, the status verified, the session resolved."""
    started = time.monotonic()
    await _configure(cw_client, cw_admin_headers)
    sessions = []
    for i in range(20):
        ticket = cw_sim.create_ticket(f"Printer {i} offline", board_id=1, company_id=1)
        sessions.append(
            await new_session(cw_client, cw_engineer_headers, psa_ticket_id=ticket["id"])
        )

    cw_sim.faults.down = True
    outcomes = []
    for i, s in enumerate(sessions):
        if i == 10:  # the rest of the outage answers 503 instead of closing connections
            cw_sim.faults.down = False
            cw_sim.faults.fail_next(503, count=10**6)
        resp = await _resolve(cw_client, cw_engineer_headers, s["id"])
        assert resp.status == 200, await resp.text()
        outcomes.append((await resp.json())["outcome"])
    assert outcomes == ["queued"] * 20
    # The worker retries into the outage: nothing is given up, nothing gets through.
    rows = await _until(lambda rows: min(r.attempts for r in rows) >= 3, cw_client, 20)
    assert min(r.attempts for r in rows) >= 3
    assert {r.state for r in rows} <= {"waiting_retry", "pending", "note_posted"}
    assert all(r.last_error for r in rows)

    cw_sim.faults.reset()
    rows = await _until(lambda rows: all(r.state == "done" for r in rows), cw_client, 45)
    assert [r.state for r in rows] == ["done"] * 20
    for s, row in zip(sessions, rows, strict=True):
        ticket_id = s["psa_ticket_id"]
        ours = [n for n in cw_sim.notes.get(ticket_id, []) if n["text"].startswith("Problem")]
        assert len(ours) == 1, ticket_id
        assert str(ours[0]["id"]) == row.note_external_id
        assert cw_sim.tickets[ticket_id]["status"]["id"] == 4
        assert row.verified_status_id == 4
        session = await (
            await cw_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=cw_engineer_headers)
        ).json()
        assert session["status"] == "resolved"
    assert time.monotonic() - started < 60
