"""Reliability at the edge of issue 15: concurrent writes of one session never deadlock into a
5xx (D2), and a deadlocked or serialization-failed transaction is run again."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from sqlalchemy.exc import DBAPIError

from plugin.kernel.appkeys import DATABASE
from providers.llm import offline
from tests.helpers import new_session

SPOOLER_WORDS = "Users can't print, the print queue is stuck"


def _always_suggest(request) -> str:
    """The offline assistant, scripted to propose a new fix on every turn, so each chat
    turn supersedes the active fix (the offline composer won't propose one twice)."""
    turn = sum(1 for m in request.messages if m.get("role") == "user")
    suggestion = {"title": f"Restart the spooler, take {turn}", "summary": "Clears it."}
    return f"Try this.\n\n[SUGGEST_FIX]{json.dumps(suggestion)}[/SUGGEST_FIX]"


async def test_d2_mixed_concurrent_writes_of_few_sessions_never_answer_5xx(
    client, engineer_headers, monkeypatch
):
    """150 outcomes, applies, chat turns (whose offline replies supersede the active fix) and
    fact adds over 3 sessions at once: the lock order is one (session row first), so nothing
    deadlocks into a 503, and every message the engineer sent has its assistant reply."""
    monkeypatch.setattr(offline, "compose_chat_reply", _always_suggest)
    sessions = [(await new_session(client, engineer_headers))["id"] for _ in range(3)]
    for sid in sessions:  # each starts with an active fix
        resp = await client.post(
            f"/api/v1/ai-sessions/{sid}/messages",
            json={"content": SPOOLER_WORDS},
            headers=engineer_headers,
        )
        assert resp.status < 300 and (await resp.json())["suggested_fix"], await resp.text()

    rng = random.Random(15)
    statuses: list[tuple[str, int]] = []
    gate = asyncio.Semaphore(24)

    async def outcome(sid: int, apply_only: bool) -> tuple[str, int]:
        active = await client.get(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/active", headers=engineer_headers
        )
        if active.status != 200:
            return "active", active.status
        fix = (await active.json())["id"]
        base = f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}"
        if apply_only:
            resp = await client.post(f"{base}/apply", headers=engineer_headers)
            return "apply", resp.status
        resp = await client.patch(
            f"{base}/outcome",
            json={"outcome": rng.choice(["applied_failed", "applied_partial"]), "notes": "n"},
            headers=engineer_headers,
        )
        return "outcome", resp.status

    async def one(n: int) -> None:
        sid = rng.choice(sessions)
        kind = n % 4
        async with gate:
            if kind in (0, 1):
                statuses.append(await outcome(sid, apply_only=kind == 1))
            elif kind == 2:
                resp = await client.post(
                    f"/api/v1/ai-sessions/{sid}/messages",
                    json={"content": f"{SPOOLER_WORDS} ({n})"},
                    headers=engineer_headers,
                )
                statuses.append(("chat", resp.status))
            else:
                resp = await client.post(
                    f"/api/v1/ai-sessions/{sid}/facts",
                    json={"text": f"observation {n}"},
                    headers=engineer_headers,
                )
                statuses.append(("fact", resp.status))

    await asyncio.gather(*(one(n) for n in range(150)))

    failures = [s for s in statuses if s[1] >= 500]
    assert failures == [], failures
    assert sum(1 for kind, status in statuses if kind == "chat" and status < 300) == sum(
        1 for n in range(150) if n % 4 == 2
    )
    for sid in sessions:
        resp = await client.get(
            f"/api/v1/ai-sessions/{sid}/messages?limit=500", headers=engineer_headers
        )
        roles = [m["role"] for m in (await resp.json())["items"]]
        assert roles.count("user") == roles.count("assistant"), roles


class _Deadlock(Exception):
    sqlstate = "40P01"


class _Unique(Exception):
    sqlstate = "23505"


async def test_d2_a_deadlocked_transaction_is_run_again_at_most_three_times(client):
    database = client.app[DATABASE]
    calls: list[int] = []

    async def twice_a_victim(tx) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DBAPIError("UPDATE …", None, _Deadlock())
        return "stored"

    assert await database.write_retrying(twice_a_victim) == "stored"
    assert len(calls) == 3

    calls.clear()

    async def always_a_victim(tx) -> str:
        calls.append(1)
        raise DBAPIError("UPDATE …", None, _Deadlock())

    with pytest.raises(DBAPIError):
        await database.write_retrying(always_a_victim)
    assert len(calls) == 3

    calls.clear()

    async def a_real_error(tx) -> str:
        calls.append(1)
        raise DBAPIError("INSERT …", None, _Unique())

    with pytest.raises(DBAPIError):
        await database.write_retrying(a_real_error)
    assert len(calls) == 1  # only a lost race is retried


async def test_d6_half_sent_requests_are_dropped_after_the_header_read_timeout(
    aiohttp_client, make_settings
):
    """50 connections that send half a request line (and dribble a byte more later) are
    closed by the server within the timeout (1 s here); a whole request still gets through."""
    from plugin.app import create_app

    client = await aiohttp_client(create_app(make_settings(header_read_timeout_seconds=1.0)))
    host, port = client.server.host, client.server.port
    conns = [await asyncio.open_connection(host, port) for _ in range(50)]
    started = asyncio.get_running_loop().time()
    for _, writer in conns:
        writer.write(b"GET /healthz HT")
        await writer.drain()
    await asyncio.sleep(0.5)
    for _, writer in conns:
        writer.write(b"T")  # trickling bytes does not buy more time
        await writer.drain()

    async def closed(reader) -> bytes:
        return await asyncio.wait_for(reader.read(), timeout=5)

    answers = await asyncio.gather(*(closed(reader) for reader, _ in conns))
    elapsed = asyncio.get_running_loop().time() - started
    assert answers == [b""] * 50  # closed without an answer
    assert elapsed < 3, elapsed
    for _, writer in conns:
        writer.close()

    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.read(), timeout=5)).startswith(b"HTTP/1.1 200")
    writer.close()


async def test_d2_a_sqlite_writer_that_waits_out_the_busy_timeout_waits_again(
    database_factory, monkeypatch
):
    """A burst of writers on SQLite: BEGIN IMMEDIATE that gives up after the busy timeout
    (nothing has run yet) is tried again instead of answering 503."""
    from sqlalchemy import text

    import plugin.kernel.db as db_module

    url = await database_factory.migrated()
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    database = db_module.Database(url)
    async with database.write() as tx:
        await tx.execute(text("CREATE TABLE probe (n INTEGER)"))
    held = asyncio.Event()

    async def hold() -> None:
        async with database.write() as tx:
            await tx.execute(text("INSERT INTO probe VALUES (1)"))
            held.set()
            await asyncio.sleep(0.5)  # > one busy timeout, < four

    holder = asyncio.create_task(hold())
    await held.wait()
    async with database.write() as tx:
        await tx.execute(text("INSERT INTO probe VALUES (2)"))
    await holder
    async with database.read() as db:
        assert (await db.execute(text("SELECT count(*) FROM probe"))).scalar() == 2
    await database.dispose()
