"""The admin's writebacks: listed by state with a cursor, retried now, cancelled; admin only
and within the account."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from plugin.features.writeback.models import Writeback
from plugin.kernel.db import utcnow
from tests.helpers import db_of, new_session

TICKET = 5001
NOTE = "## Problem\nPrinting stopped.\n\n## Resolution\nRestarted the spooler.\n"
ADMIN = "/api/v1/admin/writebacks"


async def _resolve(client, headers, sid):
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/resolution-note/post", json={"markdown": NOTE}, headers=headers
    )


async def _insert(client, session_id: int, state: str, **values) -> int:
    async with db_of(client).write() as db:
        row = Writeback(
            account_id=1,
            session_id=session_id,
            kind="resolution",
            ticket_id=TICKET,
            markdown=NOTE,
            state=state,
            attempts=1,
            **values,
        )
        db.add(row)
        await db.flush()
        return row.id


async def _row(client, writeback_id: int) -> Writeback:
    async with db_of(client).read() as db:
        return (
            await db.execute(select(Writeback).where(Writeback.id == writeback_id))
        ).scalar_one()


async def test_d4_admin_lists_writebacks_by_state_with_a_cursor(client, admin_headers):
    s = await new_session(client, admin_headers)
    far = utcnow().replace(year=2099)
    ids = {
        state: [await _insert(client, s["id"], state, next_attempt_at=far) for _ in range(3)]
        for state in ("waiting_retry", "failed", "done")
    }
    resp = await client.get(f"{ADMIN}?state=failed&limit=2", headers=admin_headers)
    page = await resp.json()
    assert resp.status == 200, page
    assert [w["id"] for w in page["items"]] == sorted(ids["failed"], reverse=True)[:2]
    assert {w["state"] for w in page["items"]} == {"failed"}
    rest = await (
        await client.get(
            f"{ADMIN}?state=failed&limit=2&cursor={page['next_cursor']}", headers=admin_headers
        )
    ).json()
    assert [w["id"] for w in rest["items"]] == [min(ids["failed"])]
    assert rest["next_cursor"] is None
    everything = await (await client.get(f"{ADMIN}?limit=200", headers=admin_headers)).json()
    assert len(everything["items"]) == 9

    bad = await client.get(f"{ADMIN}?state=queued", headers=admin_headers)
    assert bad.status == 422 and "state" in (await bad.json())["error"]["details"]["fields"]
    bad = await client.get(f"{ADMIN}?cursor=nonsense", headers=admin_headers)
    assert bad.status == 422


async def test_d4_admin_retry_makes_a_failed_writeback_due_and_the_worker_finishes_it(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 14}},  # another board's: not applied
        headers=cw_admin_headers,
    )
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    resp = await _resolve(cw_client, cw_engineer_headers, s["id"])
    assert resp.status == 502
    writeback_id = (await resp.json())["error"]["details"]["writeback_id"]
    assert (await _row(cw_client, writeback_id)).state == "failed"

    await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 4}},
        headers=cw_admin_headers,
    )
    resp = await cw_client.post(f"{ADMIN}/{writeback_id}/retry", headers=cw_admin_headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["state"] == "waiting_retry" and body["next_attempt_at"]
    for _ in range(100):
        row = await _row(cw_client, writeback_id)
        if row.state == "done":
            break
        await asyncio.sleep(0.05)
    assert row.state == "done" and row.verified_status_id == 4
    notes = [n for n in cw_sim.notes[TICKET] if n["text"].startswith("Problem")]
    assert len(notes) == 1  # resumed after its note
    resp = await cw_client.post(f"{ADMIN}/{writeback_id}/retry", headers=cw_admin_headers)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "writeback_not_retryable"


async def test_d4_admin_retry_brings_a_waiting_writeback_forward(client, admin_headers):
    s = await new_session(client, admin_headers)
    later = utcnow().replace(year=2099)
    wb = await _insert(client, s["id"], "waiting_retry", next_attempt_at=later)
    resp = await client.post(f"{ADMIN}/{wb}/retry", headers=admin_headers)
    assert resp.status == 200
    row = await _row(client, wb)
    assert row.next_attempt_at <= utcnow()
    held = await _insert(client, s["id"], "note_posted", lease_until=later)
    resp = await client.post(f"{ADMIN}/{held}/retry", headers=admin_headers)
    assert resp.status == 409 and (await resp.json())["error"]["details"]["state"] == "note_posted"


async def test_d4_admin_cancel_stops_anything_not_done(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    s = await new_session(cw_client, cw_engineer_headers, psa_ticket_id=TICKET)
    cw_sim.faults.down = True
    body = await (await _resolve(cw_client, cw_engineer_headers, s["id"])).json()
    writeback_id = body["writeback_id"]
    resp = await cw_client.post(f"{ADMIN}/{writeback_id}/cancel", headers=cw_admin_headers)
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"
    cw_sim.faults.down = False
    async with db_of(cw_client).write() as db:  # due long ago: still nothing runs it
        await db.execute(update(Writeback).values(next_attempt_at=utcnow()))
    await asyncio.sleep(0.3)
    assert (await _row(cw_client, writeback_id)).state == "cancelled"
    assert not [n for n in cw_sim.notes[TICKET] if n["text"].startswith("Problem")]
    # Cancelled is not retryable by the admin; the engineer can post again (a new writeback).
    assert (
        await cw_client.post(f"{ADMIN}/{writeback_id}/retry", headers=cw_admin_headers)
    ).status == 409
    body = await (await _resolve(cw_client, cw_engineer_headers, s["id"])).json()
    assert body["outcome"] == "resolved" and body["writeback_id"] != writeback_id
    resp = await cw_client.post(f"{ADMIN}/{body['writeback_id']}/cancel", headers=cw_admin_headers)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "writeback_done"


async def test_d4_cancelling_a_running_writeback_fences_its_runner(client, admin_headers):
    import pytest

    from plugin.features.writeback.service import LeaseLost, PSAWritebackService
    from tests.helpers import resources_of

    s = await new_session(client, admin_headers)
    wb = await _insert(client, s["id"], "pending", lease_until=utcnow().replace(year=2099))
    assert (await client.post(f"{ADMIN}/{wb}/cancel", headers=admin_headers)).status == 200
    services = resources_of(client.app)
    runner = Writeback(id=wb, attempts=1, kind="resolution")
    with pytest.raises(LeaseLost):
        await PSAWritebackService(services.db, services.psa)._save(runner, state="note_posted")
    assert (await _row(client, wb)).state == "cancelled"


async def test_d4_writeback_admin_is_admin_only_and_account_scoped(
    client, admin_headers, engineer_headers
):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account

    s = await new_session(client, admin_headers)
    wb = await _insert(client, s["id"], "failed")
    assert (await client.get(ADMIN, headers=engineer_headers)).status == 403
    assert (await client.post(f"{ADMIN}/{wb}/retry", headers=engineer_headers)).status == 403
    assert (await client.post(f"{ADMIN}/{wb}/cancel", headers=engineer_headers)).status == 403
    assert (await client.get(ADMIN)).status == 401

    async with db_of(client).write() as db:
        other = Account(slug="other-msp", name="Other MSP", preferences={})
        db.add(other)
        await db.flush()
        token, _ = await create_token(db, other, role="admin")
    theirs = {"Authorization": f"Bearer {token}"}
    assert (await (await client.get(ADMIN, headers=theirs)).json())["items"] == []
    for action in ("retry", "cancel"):
        resp = await client.post(f"{ADMIN}/{wb}/{action}", headers=theirs)
        assert resp.status == 404, action
    assert (await _row(client, wb)).state == "failed"
    assert (await client.post(f"{ADMIN}/999999/retry", headers=admin_headers)).status == 404
