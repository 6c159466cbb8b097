"""Reliability: `fixpilot serve` killed with SIGKILL in the middle of a callback load, then
restarted. Every callback it answered 2xx must be stored and processed exactly once; a
callback that got a 429 or no answer at all may be lost by this run, since ConnectWise
retries it (here: delivered again after the restart). Bounded well under a minute; part of
the normal suite, so CI runs it on both backends."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import timedelta

import aiohttp
from sqlalchemy import update

from plugin.features.callbacks.models import PSACallbackEvent
from plugin.kernel.db import Database, utcnow
from tests.callback_helpers import signature_headers, wait_until_processed
from tests.process_helpers import fixpilot_env, free_port, start, stop, wait_for_http

EVENTS = 240
KILL_AFTER_ACKS = 40
CLIENTS = 16


def bodies(cw_sim) -> list[bytes]:
    tickets = sorted(cw_sim.tickets)
    out = []
    for n in range(EVENTS):
        ticket = dict(cw_sim.tickets[tickets[n % len(tickets)]])
        ticket["_info"] = {**(ticket.get("_info") or {}), "lastUpdated": f"2026-01-01T00:{n:04d}"}
        out.append(
            json.dumps(
                {
                    "MessageId": f"kill9-{n:04d}",
                    "Action": "updated",
                    "Type": "ticket",
                    "ID": ticket["id"],
                    "Entity": json.dumps(ticket),
                    "Metadata": {"key_url": f"{cw_sim.api_url}system/callbacks/signingkey?keyId=1"},
                }
            ).encode()
        )
    return out


async def deliver_all(url: str, raws: list[bytes], key: str, kill=None):
    """Each body's answer: (status, event id) or None when no answer came. `kill` is called
    once KILL_AFTER_ACKS answers were 2xx, right there with no await in between."""
    answers: list[tuple[int, int | None] | None] = [None] * len(raws)
    gate = asyncio.Semaphore(CLIENTS)
    timeout = aiohttp.ClientTimeout(total=10)

    async def one(n: int, http: aiohttp.ClientSession) -> None:
        async with gate:
            try:
                async with http.post(
                    url, data=raws[n], headers=signature_headers(raws[n], key)
                ) as resp:
                    body = await resp.json()
                    answers[n] = (resp.status, body.get("event_id"))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return
            acks = sum(1 for a in answers if a is not None and a[0] < 300)
            if kill is not None and acks == KILL_AFTER_ACKS:
                kill()

    async with aiohttp.ClientSession(timeout=timeout) as http:
        await asyncio.gather(*(one(n, http) for n in range(len(raws))))
    return answers


async def test_callbacks_acknowledged_before_a_kill_9_are_stored_and_processed_once(
    database_url, cw_sim
):
    env = fixpilot_env(database_url, cw_sim)
    raws = bodies(cw_sim)
    database = Database(database_url)
    async with asyncio.timeout(90):
        port = free_port()
        server = await start("serve", "--port", str(port), env=env)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/readyz", server)
            url = f"http://127.0.0.1:{port}/webhooks/connectwise/default"
            # Mid-load, and no shutdown of any kind.
            kill = lambda: server.send_signal(signal.SIGKILL)  # noqa: E731
            first = await deliver_all(url, raws, cw_sim.signing_key, kill)
        finally:
            code, _ = await stop(server, signal.SIGKILL)
        assert code == -signal.SIGKILL
        acknowledged = {n: a for n, a in enumerate(first) if a is not None and a[0] < 300}
        assert KILL_AFTER_ACKS <= len(acknowledged) < EVENTS  # the kill did land mid-load

        # What the dead server had claimed runs out of its lease (60 s) before the restarted
        # one takes it over; pretend that time has passed rather than wait for it.
        async with database.write() as tx:
            await tx.execute(
                update(PSACallbackEvent)
                .where(PSACallbackEvent.status == "processing")
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )

        port = free_port()
        server = await start("serve", "--port", str(port), env=env)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/readyz", server)
            # ConnectWise delivers again what got no 2xx.
            retry = [n for n in range(EVENTS) if n not in acknowledged]
            url = f"http://127.0.0.1:{port}/webhooks/connectwise/default"
            second = await deliver_all(url, [raws[n] for n in retry], cw_sim.signing_key)
            assert all(a is not None and a[0] in (200, 202) for a in second), second
            rows = await wait_until_processed(database, EVENTS, within=40)
        finally:
            code, err = await stop(server)
            await database.dispose()
        assert code == 0, err

    by_key = {e.dedupe_key: e for e in rows}
    assert len(rows) == len(by_key) == EVENTS  # each callback stored exactly once
    for n, (status, event_id) in acknowledged.items():
        event = by_key[f"kill9-{n:04d}"]
        assert status in (200, 202)
        if status == 202:
            assert event.id == event_id
    assert {e.status for e in rows} == {"done"}  # processed, in one committed transaction
    assert all(e.processed_at is not None for e in rows)
