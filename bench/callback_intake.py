"""Callback intake: how long ConnectWise waits for our answer (it gives up after 5 s).

Run: .venv/bin/python bench/callback_intake.py
Delivers signed ticket callbacks (distinct events, then the same one again) to a served app
whose account points at the ConnectWise simulator, and prints p50/p99 latency next to an
unauthenticated GET /healthz, as ratios measured in this one run (SQLite).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.common import Timer, percentile, served_app  # noqa: E402
from providers.psa.connectwise import SIGNATURE_HEADER, compute_signature  # noqa: E402
from providers.psa.simulator import SimulatorState, create_simulator_app  # noqa: E402

EVENTS = 400


def _body(state: SimulatorState, ticket_id: int) -> bytes:
    ticket = dict(state.tickets[ticket_id])
    ticket["_info"] = {
        **ticket.get("_info", {}),
        "lastUpdated": str(uuid.uuid4()),
        "updatedBy": "jsmith",
    }
    return json.dumps(
        {
            "MessageId": str(uuid.uuid4()),
            "Action": "updated",
            "Type": "ticket",
            "ID": ticket_id,
            "Entity": json.dumps(ticket),
            "Metadata": {"key_url": f"{state.api_url}system/callbacks/signingkey?keyId=1"},
        }
    ).encode()


async def main() -> None:
    state = SimulatorState.demo()
    state.emit_callbacks = False
    sim = TestServer(create_simulator_app(state))
    await sim.start_server()
    state.site_url = str(sim.make_url("")).rstrip("/")
    key = state.signing_keys[1]
    overrides = {
        "cw_url": state.api_url,
        "cw_company_id": state.company_id,
        "cw_public_key": state.public_key,
        "cw_private_key": SecretStr(state.private_key),
        "cw_client_id": state.client_id,
        "cw_api_member_id": state.api_member_id,
    }
    async with served_app(**overrides) as (client, _headers, _):

        async def deliver(raw: bytes) -> float:
            with Timer() as t:
                resp = await client.post(
                    "/webhooks/connectwise/default",
                    data=raw,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: compute_signature(raw, key),
                    },
                )
                assert resp.status in (200, 202), await resp.text()
            return t.ms

        await deliver(_body(state, 5001))  # warms the signing-key cache
        tickets = sorted(state.tickets)
        fresh = [await deliver(_body(state, tickets[i % len(tickets)])) for i in range(EVENTS)]
        dup = _body(state, 5002)
        dups = [await deliver(dup) for _ in range(EVENTS)]
        health = []
        for _ in range(EVENTS):
            with Timer() as t:
                await client.get("/healthz")
            health.append(t.ms)
    await sim.close()

    base = percentile(health, 50)
    print(f"callback intake, {EVENTS} deliveries each (SQLite, worker processing alongside)")
    for name, values in (("new event", fresh), ("duplicate", dups), ("GET /healthz", health)):
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"  {name:13} p50 {p50:6.2f} ms ({p50 / base:4.1f}x healthz)   p99 {p99:6.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
