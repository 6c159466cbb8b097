"""Reliability at the edge of issue 15: concurrent writes of one session never deadlock into a
5xx (D2) and a lost race is run again; half-sent requests are dropped (D6); every id route
keeps to its account (the tenancy matrix)."""

from __future__ import annotations

import asyncio
import json
import random
import re

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


# A valid body per body model, so a route answers about the object, not the body.
TENANCY_BODIES = {
    "FactCreate": {"text": "from B"},
    "SecretPaste": {"label": "b", "value": "b-secret"},
    "MessageCreate": {"content": "from B"},
    "CheckResultIn": {"result": "from B"},
    "OutcomeIn": {"outcome": "applied_success"},
    "TemplateIn": {"name": "b", "language": "powershell", "body": "Write-Output 1"},
    "PromoteIn": {},
    "DecisionIn": {"decision": "dismissed"},
    "DraftEdit": {"name": "b", "templated_body": "Write-Output 1"},
    "KBPostIn": {},
    "PostIn": {},
}
# Not an object of an account: the PSA's own board ids, looked up in the caller's PSA.
NOT_ACCOUNT_OBJECTS = {"board_id"}


async def _objects_of_account_a(client, admin_headers, engineer_headers) -> dict[str, int]:
    """One object of each kind an id route names, all in account A (the default account)."""
    from plugin.features.callbacks.models import PSACallbackEvent
    from plugin.features.checks.models import DiagnosticCheck
    from plugin.features.scripts.models import DraftTemplate
    from plugin.features.writeback.models import Writeback
    from plugin.kernel.tenancy import get_account_by_slug
    from tests.helpers import db_of, insert_fix

    session = await new_session(client, engineer_headers)
    sid = session["id"]
    fact = await (
        await client.post(
            f"/api/v1/ai-sessions/{sid}/facts", json={"text": "a"}, headers=engineer_headers
        )
    ).json()
    template = await client.post(
        "/api/v1/scripts/templates", json=TENANCY_BODIES["TemplateIn"], headers=admin_headers
    )
    assert template.status == 201, await template.text()
    token = await client.post(
        "/api/v1/admin/tokens", json={"name": "a", "role": "engineer"}, headers=admin_headers
    )
    assert token.status == 201, await token.text()
    fix_id = await insert_fix(client, sid)
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        assert account is not None
        check = DiagnosticCheck(session_id=sid, text="Is the spooler running?")
        draft = DraftTemplate(
            account_id=account.id,
            session_id=sid,
            name="a draft",
            language="powershell",
            source_script="Write-Output 1",
            templated_body="Write-Output 1",
            generator="offline",
        )
        event = PSACallbackEvent(
            account_id=account.id,
            dedupe_key="tenancy-a",
            event_type="ticket",
            action="updated",
            payload={},
        )
        writeback = Writeback(
            account_id=account.id,
            session_id=sid,
            kind="resolution",
            markdown="Resolved.",
            state="failed",
        )
        tx.add_all([check, draft, event, writeback])
        await tx.flush()
        ids = {
            "check_id": check.id,
            "draft_id": draft.id,
            "event_id": event.id,
            "writeback_id": writeback.id,
        }
    return {
        "session_id": sid,
        "fact_id": fact["id"],
        "fix_id": fix_id,
        "template_id": (await template.json())["id"],
        "token_id": (await token.json())["id"],
        **ids,
    }


async def test_tenancy_every_id_route_is_404_to_another_account(
    client, admin_headers, engineer_headers
):
    """For every route of the router with an `{…_id}` in its path, account B's admin gets
    404 for account A's object (its engineer 404, or 403 on an admin route), and A's
    session is left as it was."""
    from plugin.app import route_tables
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account
    from tests.helpers import db_of

    objects = await _objects_of_account_a(client, admin_headers, engineer_headers)
    async with db_of(client).write() as tx:
        other = Account(slug="account-b", name="Account B", preferences={})
        tx.add(other)
        await tx.flush()
        b_admin, _ = await create_token(tx, other, role="admin")
        b_engineer, _ = await create_token(tx, other, role="engineer")
    before = await (
        await client.get(f"/api/v1/ai-sessions/{objects['session_id']}", headers=engineer_headers)
    ).json()

    specs = [s for t in route_tables() for s in t.specs if re.search(r"{\w+_id}", s.path)]
    assert len(specs) >= 30  # the matrix covers the router, not a hand-picked list
    checked = 0
    for spec in specs:
        names = re.findall(r"{(\w+)}", spec.path)
        if NOT_ACCOUNT_OBJECTS & set(names):
            continue
        missing = [n for n in names if n not in objects]
        assert not missing, f"{spec.method} {spec.path}: make an account-A object for {missing}"
        path = spec.path.format(**objects)
        body = None
        if spec.body is not None:
            assert spec.body.__name__ in TENANCY_BODIES, f"add a body for {spec.body.__name__}"
            body = TENANCY_BODIES[spec.body.__name__]
        for token, allowed in ((b_admin, {404}), (b_engineer, {404, 403})):
            resp = await client.request(
                spec.method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert resp.status in allowed, (spec.method, path, resp.status, await resp.text())
        checked += 1
    assert checked == len(specs) - sum(
        1 for s in specs if NOT_ACCOUNT_OBJECTS & set(re.findall(r"{(\w+)}", s.path))
    )
    after = await (
        await client.get(f"/api/v1/ai-sessions/{objects['session_id']}", headers=engineer_headers)
    ).json()
    assert after["state_version"] == before["state_version"]
    resp = await client.get("/api/v1/admin/tokens", headers=admin_headers)
    assert objects["token_id"] in [t["id"] for t in (await resp.json())["items"]]
