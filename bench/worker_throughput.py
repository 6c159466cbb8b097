"""Callback worker throughput: events processed per second with 10,000 queued.

Run: .venv/bin/python bench/worker_throughput.py [--events 10000] [--seconds 40] [--pg]
Stores the events directly (signed intake is bench/callback_intake.py's business), then runs
the callback worker's batches, as `fixpilot worker` does, against the ConnectWise simulator
in this process, until the queue is empty or the time is up. SQLite unless --pg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.callback_intake import drop_pg, pg_database  # noqa: E402
from plugin.features.accounts.service import ensure_default_account  # noqa: E402
from plugin.features.callbacks.models import PSACallbackEvent  # noqa: E402
from plugin.features.callbacks.worker import run_batch  # noqa: E402
from plugin.features.callbacks.writer import store_batch  # noqa: E402
from plugin.kernel.db import Database  # noqa: E402
from plugin.kernel.logging import configure_logging  # noqa: E402
from plugin.kernel.metrics import Metrics  # noqa: E402
from plugin.kernel.migrate import upgrade  # noqa: E402
from plugin.kernel.psa import PSAConnections  # noqa: E402
from plugin.kernel.settings import Settings  # noqa: E402
from plugin.kernel.tenancy import get_account_by_slug  # noqa: E402
from providers.psa.simulator import SimulatorState, create_simulator_app  # noqa: E402


def event_rows(state: SimulatorState, account_id: int, n: int) -> list[dict]:
    tickets = sorted(state.tickets)
    rows = []
    for i in range(n):
        ticket_id = tickets[i % len(tickets)]
        entity = {**state.tickets[ticket_id], "_info": {"lastUpdated": str(i)}}
        rows.append(
            {
                "account_id": account_id,
                "dedupe_key": str(uuid.uuid4()),
                "record_id": ticket_id,
                "event_type": "ticket",
                "action": "updated",
                "payload": json.loads(
                    json.dumps(
                        {
                            "record_id": ticket_id,
                            "action": "updated",
                            "type": "ticket",
                            "entity": entity,
                            "key_url": None,
                        }
                    )
                ),
            }
        )
    return rows


async def pending(database: Database) -> int:
    async with database.read() as db:
        stmt = select(func.count()).where(PSACallbackEvent.status.in_(("pending", "processing")))
        return (await db.execute(stmt)).scalar_one()


async def run(url: str, events: int, seconds: float) -> None:
    state = SimulatorState.demo()
    state.emit_callbacks = False
    sim = TestServer(create_simulator_app(state))
    await sim.start_server()
    state.site_url = str(sim.make_url("")).rstrip("/")
    await upgrade(url)
    settings = Settings.model_construct(
        **{
            **Settings().model_dump(),
            "database_url": url,
            "cw_url": state.api_url,
            "cw_company_id": state.company_id,
            "cw_public_key": state.public_key,
            "cw_private_key": SecretStr(state.private_key),
            "cw_client_id": state.client_id,
            "cw_api_member_id": state.api_member_id,
        }
    )
    database, psa, metrics = Database(url), PSAConnections(settings), Metrics()
    try:
        await ensure_default_account(database, settings)
        async with database.read() as db:
            account = await get_account_by_slug(db, "default")
        rows = event_rows(state, account.id, events)
        for start in range(0, events, 500):
            await store_batch(database, rows[start : start + 500])
        started = time.perf_counter()
        processed = 0
        while time.perf_counter() - started < seconds:
            claimed = await run_batch(database, psa, metrics)
            if not claimed:
                break
            processed += claimed
        elapsed = time.perf_counter() - started
        left = await pending(database)
    finally:
        await psa.aclose()
        await database.dispose()
        await sim.close()
    print(
        f"  {url.split(':', 1)[0]:20} {processed} of {events} processed in {elapsed:.1f} s: "
        f"{processed / elapsed:.0f} events/s ({left} left)"
    )


async def main(args: argparse.Namespace) -> None:
    configure_logging("console", "error")
    print(f"callback worker, {args.events} queued events, one worker, at most {args.seconds:g} s")
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.events, args.seconds)
    if args.pg:
        url = await pg_database()
        if url is None:
            print("  PostgreSQL not reachable")
            return
        try:
            await run(url, args.events, args.seconds)
        finally:
            await drop_pg(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--pg", action="store_true")
    asyncio.run(main(parser.parse_args()))
