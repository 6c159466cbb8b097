"""The callback worker: one fixture and one test per kind of ticket change, retries and the
dead letter, leases, and two app instances sharing one database."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.app import create_app
from plugin.features.accounts.service import ensure_default_account
from plugin.features.callbacks.intake import event_values, store_event
from plugin.features.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.features.callbacks.worker import (
    LEASE,
    MAX_ATTEMPTS,
    claim_due,
    process_claimed,
    run_batch,
)
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import utcnow
from plugin.kernel.tenancy import get_account_by_slug
from tests.callback_helpers import (
    count,
    deliver,
    events,
    fixture_body,
    get_session,
    link_session,
    services_of,
    sessions_for,
    set_preferences,
    snapshot,
    ticket_body,
    wait_until_processed,
)
from tests.helpers import resources_of


async def deliver_fixture(cw_client, cw_sim, name: str) -> PSACallbackEvent:
    resp = await deliver(cw_client, fixture_body(name, cw_sim.site_url), cw_sim.signing_key)
    assert resp.status == 202, await resp.text()
    (event,) = await wait_until_processed(services_of(cw_client).db)
    return event


# --- one fixture, one test per case ---------------------------------------------------------


async def test_ticket_added_opens_a_session_when_its_board_auto_opens(cw_client, cw_sim):
    db = services_of(cw_client).db
    await set_preferences(db, {"auto_open_boards": [1]})

    event = await deliver_fixture(cw_client, cw_sim, "ticket__added")

    assert event.status == "done"
    (opened,) = await sessions_for(db, 5012)
    assert opened.title.startswith("New hire setup")
    assert (opened.status, opened.ticket_state, opened.state_version) == ("active", "open", 1)
    assert opened.ticket_context == {
        "summary": "New hire setup - laptop, M365 license, shared mailbox access",
        "board_id": 1,
        "board_name": "Help Desk",
        "status_id": 1,
        "status_name": "New",
        "company_name": "Tailspin Architects",
        "contact_name": "Emily Wu",
        "closed": False,
        "merged_parent_id": None,
        # The first Detail Description note, read for the session that opens now.
        "description": "New architect starts on the 1st: laptop, Microsoft 365 Business "
        "Premium licence, access to the projects@ shared mailbox and the Plans share.",
    }
    snap = await snapshot(db, 5012)
    assert (snap.board_id, snap.status_id, snap.last_updated) == (1, 1, "2025-03-10T14:02:11Z")


async def test_ticket_added_on_another_board_opens_nothing(cw_client, cw_sim):
    db = services_of(cw_client).db
    await set_preferences(db, {"auto_open_boards": [2]})

    event = await deliver_fixture(cw_client, cw_sim, "ticket__added")

    assert event.status == "done"
    assert await sessions_for(db, 5012) == []
    assert (await snapshot(db, 5012)).summary.startswith("New hire setup")


async def test_ticket_updated_refreshes_the_linked_session(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5002])
    other = await link_session(db, cw_sim.tickets[5003])

    event = await deliver_fixture(cw_client, cw_sim, "ticket__updated")

    assert event.status == "done"
    session = await get_session(db, linked)
    assert session.ticket_context["status_id"] == 3
    assert session.ticket_context["status_name"] == "Waiting on Customer"
    assert (session.ticket_state, session.state_version) == ("open", 2)
    assert (await get_session(db, other)).state_version == 1
    assert (await snapshot(db, 5002)).status_name == "Waiting on Customer"


async def test_ticket_deleted_marks_snapshot_and_session(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5009])

    event = await deliver_fixture(cw_client, cw_sim, "ticket__deleted")

    assert event.status == "done"
    session = await get_session(db, linked)
    assert (session.ticket_state, session.state_version) == ("deleted", 2)
    assert (await snapshot(db, 5009)).deleted is True


async def test_ticket_closed_outside_fixpilot_is_shown_on_the_session(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5004])

    await deliver_fixture(cw_client, cw_sim, "ticket__closed_outside")

    session = await get_session(db, linked)
    assert (session.ticket_state, session.state_version) == ("closed_outside", 2)
    assert session.ticket_context["closed"] is True
    assert session.ticket_context["status_name"] == "Resolved"
    assert session.status == "active"  # the engineer decides what to do with the session


async def test_ticket_moved_to_another_board(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5005])

    await deliver_fixture(cw_client, cw_sim, "ticket__moved_board")

    session = await get_session(db, linked)
    assert session.ticket_state == "moved_board"
    assert (session.ticket_context["board_id"], session.ticket_context["status_id"]) == (2, 11)
    assert (await snapshot(db, 5005)).board_name == "Escalations"


async def test_ticket_merged_into_another(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5010])

    await deliver_fixture(cw_client, cw_sim, "ticket__merged")

    session = await get_session(db, linked)
    assert session.ticket_state == "merged"
    assert session.ticket_context["merged_parent_id"] == 5006
    assert (await snapshot(db, 5010)).merged_parent_id == 5006


async def test_echo_of_fixpilots_own_write_changes_nothing(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5001])
    before = await get_session(db, linked)

    event = await deliver_fixture(cw_client, cw_sim, "ticket__own_echo")

    assert event.status == "ignored"
    assert "own write" in event.last_error
    after = await get_session(db, linked)
    assert (after.ticket_state, after.state_version) == ("open", 1)
    assert after.ticket_context == before.ticket_context
    assert await snapshot(db, 5001) is None


async def test_type_capitalised_is_a_ticket_too(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5003])

    event = await deliver_fixture(cw_client, cw_sim, "ticket__type_capitalised")

    assert (event.event_type, event.status) == ("ticket", "done")
    session = await get_session(db, linked)
    assert (session.ticket_context["status_name"], session.state_version) == ("In Progress", 2)


async def test_unknown_type_is_acknowledged_logged_and_dropped(cw_client, cw_sim):
    db = services_of(cw_client).db
    raw = fixture_body("company__updated", cw_sim.site_url)

    resp = await deliver(cw_client, raw, cw_sim.signing_key)

    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    assert await count(db, PSACallbackEvent) == 0


# --- ordering, reopening ---------------------------------------------------------------------


async def test_an_older_event_does_not_overwrite_a_newer_snapshot(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5002])
    newer = copy.deepcopy(cw_sim.tickets[5002])
    newer["summary"] = "Outlook crash - fixed profile, watching"
    newer["_info"]["lastUpdated"] = "2025-03-12T08:00:00Z"
    newer["_info"]["updatedBy"] = "agarcia"
    resp = await deliver(cw_client, ticket_body(cw_sim.site_url, newer), cw_sim.signing_key)
    assert resp.status == 202
    await wait_until_processed(db)

    older = await deliver(
        cw_client, fixture_body("ticket__updated", cw_sim.site_url), cw_sim.signing_key
    )
    assert older.status == 202
    rows = await wait_until_processed(db, 2)

    assert rows[-1].status == "ignored"
    assert (await snapshot(db, 5002)).summary == "Outlook crash - fixed profile, watching"
    session = await get_session(db, linked)
    assert session.ticket_context["summary"] == "Outlook crash - fixed profile, watching"
    assert session.state_version == 2


async def test_a_reopened_ticket_is_open_again(cw_client, cw_sim):
    db = services_of(cw_client).db
    linked = await link_session(db, cw_sim.tickets[5004])
    await deliver_fixture(cw_client, cw_sim, "ticket__closed_outside")
    reopened = json.loads(
        json.loads(fixture_body("ticket__closed_outside", cw_sim.site_url))["Entity"]
    )
    reopened.update(closedFlag=False, status={"id": 2, "name": "In Progress"})
    reopened["_info"]["lastUpdated"] = "2025-03-11T11:00:00Z"

    resp = await deliver(cw_client, ticket_body(cw_sim.site_url, reopened), cw_sim.signing_key)
    assert resp.status == 202
    await wait_until_processed(db, 2)

    session = await get_session(db, linked)
    assert (session.ticket_state, session.state_version) == ("open", 3)


# --- retries, dead letter, replay ------------------------------------------------------------


async def test_failures_retry_with_backoff_then_dead_letter_and_replay(
    cw_client, cw_sim, cw_admin_headers
):
    """An update without Entity makes the worker read the ticket, which the API member may
    not do: every attempt fails until an admin fixes the permission and replays it."""
    services = services_of(cw_client)
    db = services.db
    linked = await link_session(db, cw_sim.tickets[5006])
    cw_sim.denied_paths = {"service/tickets"}
    body = json.loads(ticket_body(cw_sim.site_url, cw_sim.tickets[5006]))
    body["Entity"] = None
    resp = await deliver(cw_client, json.dumps(body).encode(), cw_sim.signing_key)
    assert resp.status == 202

    (event,) = await wait_until_pending_retry(db)
    assert event.attempts == 1
    assert event.next_attempt_at > utcnow() + timedelta(seconds=3)  # backed off, not hot-looping
    assert "PSAPermissionError" in event.last_error
    later = utcnow()
    for hour in range(1, MAX_ATTEMPTS + 2):
        await run_batch(
            services.db, services.psa, services.metrics, now=later + timedelta(hours=hour)
        )
    (event,) = await events(db)
    assert (event.status, event.attempts) == ("dead", MAX_ATTEMPTS)

    listed = await cw_client.get(
        "/api/v1/admin/callback-events?status=dead", headers=cw_admin_headers
    )
    assert listed.status == 200
    page = await listed.json()
    assert [(e["id"], e["status"], e["record_id"]) for e in page["items"]] == [
        (event.id, "dead", 5006)
    ]
    assert page["next_cursor"] is None
    pending = await cw_client.get(
        "/api/v1/admin/callback-events?status=pending", headers=cw_admin_headers
    )
    assert (await pending.json())["items"] == []

    cw_sim.denied_paths = set()
    replay = await cw_client.post(
        f"/api/v1/admin/callback-events/{event.id}/replay", headers=cw_admin_headers
    )
    assert replay.status == 200
    assert ((await replay.json())["status"], (await replay.json())["attempts"]) == ("pending", 0)
    (event,) = await wait_until_processed(db)
    assert (event.status, event.attempts) == ("done", 1)
    assert (await get_session(db, linked)).ticket_context["summary"].startswith("Windows keeps")

    again = await cw_client.post(
        f"/api/v1/admin/callback-events/{event.id}/replay", headers=cw_admin_headers
    )
    assert again.status == 409


async def wait_until_pending_retry(db):
    async with asyncio.timeout(5):
        while True:
            rows = await events(db)
            if rows and rows[0].status == "pending" and rows[0].attempts >= 1:
                return rows
            await asyncio.sleep(0.02)


async def test_admin_routes_need_an_admin_and_scope_to_the_account(
    cw_client, cw_sim, cw_engineer_headers, cw_admin_headers
):
    assert (await cw_client.get("/api/v1/admin/callback-events")).status == 401
    engineer = await cw_client.get("/api/v1/admin/callback-events", headers=cw_engineer_headers)
    assert engineer.status == 403
    missing = await cw_client.post(
        "/api/v1/admin/callback-events/999/replay", headers=cw_admin_headers
    )
    assert missing.status == 404
    bad = await cw_client.get("/api/v1/admin/callback-events?status=lost", headers=cw_admin_headers)
    assert bad.status == 422


# --- leases and several instances ------------------------------------------------------------


@pytest.fixture
async def idle_services(cw_settings):
    """An app's services with no worker running, to drive claiming by hand."""
    settings = cw_settings()
    services = resources_of(create_app(settings))
    await ensure_default_account(services.db, settings)
    yield services
    await services.psa.aclose()
    await services.db.dispose()


async def store_fixture(services, cw_sim, name: str) -> int:
    raw = fixture_body(name, cw_sim.site_url)
    async with services.db.read() as db:
        account = await get_account_by_slug(db, "default")
    source = services.psa.for_account(account).callbacks
    envelope = source.parse(raw)
    return await store_event(services.db, event_values(account.id, envelope, raw, source))


async def test_an_expired_lease_is_claimed_again_and_applied_once(idle_services, cw_sim):
    services = idle_services
    linked = await link_session(services.db, cw_sim.tickets[5004])
    await store_fixture(services, cw_sim, "ticket__closed_outside")
    t0 = utcnow()

    (stuck,) = await claim_due(services.db, now=t0)  # a worker that then died
    assert await claim_due(services.db, now=t0 + LEASE / 2) == []  # still leased
    (reclaimed,) = await claim_due(services.db, now=t0 + LEASE * 2)
    assert reclaimed.attempts == stuck.attempts + 1

    await process_claimed(
        services.db, services.psa, services.metrics, stuck, now=t0
    )  # the first worker wakes up late
    assert (await get_session(services.db, linked)).state_version == 1  # lease lost: no effect
    await process_claimed(services.db, services.psa, services.metrics, reclaimed, now=t0)

    (event,) = await events(services.db)
    assert (event.status, event.attempts) == ("done", 2)
    session = await get_session(services.db, linked)
    assert (session.ticket_state, session.state_version) == ("closed_outside", 2)


async def test_two_instances_process_500_events_exactly_once(aiohttp_client, cw_settings, cw_sim):
    settings = cw_settings()
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    await set_preferences(services_of(first).db, {"auto_open_boards": [1]})
    template = cw_sim.tickets[5012]
    bodies = []
    for n in range(500):
        ticket = copy.deepcopy(template)
        ticket.update(id=700_000 + n, summary=f"Generated ticket {n}")
        bodies.append(ticket_body(cw_sim.site_url, ticket, "added"))
    gate = asyncio.Semaphore(25)

    async def post(n: int) -> list[int]:
        client = first if n % 2 == 0 else second
        answers = []
        async with gate:
            while len(answers) < 20 and (not answers or answers[-1] == 429):
                if answers:
                    await asyncio.sleep(0.05)  # ConnectWise retries a 429
                answers.append((await deliver(client, bodies[n], cw_sim.signing_key)).status)
        return answers

    # A 429 after a slow store (SQLite's writers queueing) may be followed by a duplicate:
    # the store landed after the answer.
    answers = await asyncio.gather(*(post(n) for n in range(500)))
    for per_event in answers:
        assert per_event[-1] == 202 or (per_event[-1] == 200 and 429 in per_event), per_event
    db = services_of(first).db
    # What is checked is exactly-once, not speed (bench/worker_throughput.py measures that):
    # each event auto-opens a session, and on two busy cores 500 of them can take over 30 s.
    rows = await wait_until_processed(db, 500, within=90)

    assert len(rows) == 500
    assert {(e.status, e.attempts) for e in rows} == {("done", 1)}
    done = [
        services_of(c).metrics.registry.get_sample_value(
            "fixpilot_background_items_total", {"worker": "callbacks", "result": "done"}
        )
        or 0
        for c in (first, second)
    ]
    assert sum(done) == 500
    async with db.read() as session:
        sessions, tickets = (
            await session.execute(
                select(func.count(AISession.id), func.count(func.distinct(AISession.psa_ticket_id)))
            )
        ).one()
    assert (sessions, tickets) == (500, 500)
    assert await count(db, PSATicketSnapshot) == 500
