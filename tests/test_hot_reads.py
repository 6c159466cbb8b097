"""The pod's hot read, `GET /api/v1/ai-sessions/{id}`: one query in one read transaction,
answering byte for byte what the four-query ORM read answered."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from plugin.features.fixes.models import IS_ACTIVE_FIX, SuggestedFix
from plugin.features.fixes.service import fix_out
from plugin.features.fixes.transitions import banner_mode
from plugin.features.writeback.models import Writeback
from plugin.kernel.ai_sessions import AISession, get_ai_session
from plugin.kernel.appkeys import SETTINGS
from plugin.kernel.db import utcnow
from plugin.kernel.http import json_response
from plugin.kernel.tenancy import get_account, get_account_by_slug
from plugin.views.sessions import SessionOut, TicketInfo, WritebackBrief
from tests.conftest import _token
from tests.helpers import db_of

DANGEROUS = "Get-ChildItem C:\\Users | Remove-Item -Recurse -Force\nformat c: /q\n"


# --- The oracle: the read as it was before issue 15 (four ORM queries), kept only here. ---
async def _old_read(db, settings, account_id: int, session_id: int) -> SessionOut:
    ai_session = await get_ai_session(db, account_id, session_id)
    account = await get_account(db, account_id)
    nudge_after = account.prefs.nudge_after(settings.nudge_after_minutes)
    fix = (
        await db.execute(
            select(SuggestedFix).where(SuggestedFix.session_id == session_id, IS_ACTIVE_FIX)
        )
    ).scalar_one_or_none()
    writeback = None
    for row in (
        await db.execute(
            select(Writeback).where(Writeback.session_id == session_id).order_by(Writeback.id)
        )
    ).scalars():
        writeback = row
    mode = None
    if fix is not None:
        mode = banner_mode(
            status=fix.status,
            applied_at=fix.applied_at,
            superseded=False,
            now=utcnow(),
            nudge_after=nudge_after,
        )
    ticket = None
    if ai_session.psa_ticket_id is not None:
        ticket = TicketInfo(id=ai_session.psa_ticket_id, **(ai_session.ticket_context or {}))
    brief = None
    if writeback is not None:
        brief = WritebackBrief(
            id=writeback.id,
            kind=writeback.kind,
            state=writeback.state,
            last_error=writeback.last_error,
            attempts=writeback.attempts,
            created_by=writeback.created_by,
            author_member_id=writeback.author_member_id,
        )
    return SessionOut(
        id=ai_session.id,
        title=ai_session.title,
        psa_ticket_id=ai_session.psa_ticket_id,
        status=ai_session.status,
        state_version=ai_session.state_version,
        ticket_state=ai_session.ticket_state,
        ticket=ticket,
        active_fix=fix_out(fix) if fix else None,
        banner_mode=mode,
        latest_writeback=brief,
        created_at=ai_session.created_at,
        updated_at=ai_session.updated_at,
    )


# --- Writeback rows: the only place these tests name the writeback's state columns. ---
def _writeback(session: AISession, kind: str, state: str, **extra: Any) -> Writeback:
    return Writeback(
        account_id=session.account_id,
        session_id=session.id,
        kind=kind,
        markdown="## Resolution\nDone.",
        state=state,
        **extra,
    )


async def _varied_sessions(client) -> tuple[int, list[int]]:
    """Sessions in every shape the view has to render; returns (account id, session ids)."""
    now = utcnow()
    ids = []
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")

        def new(**values: Any) -> AISession:
            session = AISession(
                account_id=account.id,
                title=values.pop("title", "Printer queue stuck"),
                state_version=values.pop("state_version", 1),
                **values,
            )
            tx.add(session)
            return session

        bare = new(title="No ticket, no fix")
        ticketed = new(
            title='Ünïcode — “quotes” \\ and "escapes" \u2028',
            psa_ticket_id=1001,
            ticket_state="open",
            state_version=7,
            ticket_context={
                "summary": 'Outlook "keeps" crashing ✉',
                "board_id": 2,
                "board_name": "Help desk",
                "status_id": 5,
                "status_name": "In progress",
                "company_name": "Contoso",
                "contact_name": None,
                "closed": False,
                "merged_parent_id": None,
                "description": "kept for prompts, not shown",
            },
        )
        ticket_no_context = new(title="Ticket not read yet", psa_ticket_id=1002)
        verifying = new(title="Applied a minute ago")
        nudging = new(title="Applied ten days ago", status="resolved", ticket_state="merged")
        pending = new(title="Pending", psa_ticket_id=1003, ticket_state="closed_outside")
        failed = new(title="Failed", status="escalated_local")
        only_dismissed = new(title="Only dismissed fixes")
        await tx.flush()

        def fix(session: AISession, **values: Any) -> None:
            tx.add(
                SuggestedFix(
                    session_id=session.id,
                    title=values.pop("title", "Restart the spooler"),
                    summary=values.pop("summary", "Clears the queue."),
                    **values,
                )
            )

        fix(ticketed, status="dismissed", decision="dismissed", decided_at=now)
        fix(ticketed, status="suggested", superseded_at=now - timedelta(hours=1))
        fix(
            ticketed,
            status="applied_partial",
            partial_notes="Half the printers came back.",
            applied_at=now - timedelta(hours=2),
            confidence=80,
            template_id=None,
            ai_drafted_parameters={"host": "PRN-01", "n": 3, "ratio": 0.25, "ok": True},
            ai_drafted_script=DANGEROUS,
            decision="one_off",
            decided_at=now - timedelta(hours=3),
        )
        fix(verifying, applied_at=now - timedelta(minutes=1), ai_drafted_script="Get-Service")
        fix(
            nudging,
            applied_at=now - timedelta(days=10),
            ai_drafted_script="echo drafted",
            edited_script=DANGEROUS,
            verified_at=now - timedelta(days=9),
        )
        fix(pending, status="applied_pending", pending_reason="Waiting for the user to reboot")
        fix(
            failed,
            status="applied_failed",
            failure_reason="Access denied on the share",
            applied_at=now - timedelta(days=1),
        )
        fix(only_dismissed, status="dismissed")
        await tx.flush()
        tx.add_all(
            [
                _writeback(ticketed, "resolution", "done", attempts=1, created_by="jsmith"),
                _writeback(
                    ticketed,
                    "escalation",
                    "waiting_retry",
                    note_external_id="77",
                    attempts=3,
                    last_error="ConnectWise answered 503",
                    created_by="token:1",
                    author_member_id="jsmith",
                ),
                _writeback(nudging, "resolution", "pending"),
                _writeback(failed, "escalation", "failed", target_status_id=5, attempts=8),
                _writeback(failed, "resolution", "done", completed_at=now),
                _writeback(pending, "escalation", "cancelled", created_by="bob"),
            ]
        )
        ids = [
            s.id
            for s in (
                bare,
                ticketed,
                ticket_no_context,
                verifying,
                nudging,
                pending,
                failed,
                only_dismissed,
            )
        ]
    return account.id, ids


async def test_session_read_in_one_query_answers_byte_for_byte_what_the_orm_read_did(
    client, engineer_headers
):
    account_id, ids = await _varied_sessions(client)
    settings = client.app[SETTINGS]
    for session_id in ids:
        resp = await client.get(f"/api/v1/ai-sessions/{session_id}", headers=engineer_headers)
        assert resp.status == 200
        new_bytes = await resp.read()
        async with db_of(client).read() as db:
            old = await _old_read(db, settings, account_id, session_id)
        assert new_bytes == json_response(old).body, session_id
    shapes = [
        await (await client.get(f"/api/v1/ai-sessions/{i}", headers=engineer_headers)).json()
        for i in ids
    ]
    # The data really covers what it claims to: every banner, findings, tickets, writebacks.
    assert {s["banner_mode"] for s in shapes} == {None, "verifying", "nudge", "partial", "pending"}
    assert (
        shapes[1]["active_fix"]["findings"]
        and shapes[1]["latest_writeback"]["state"] == "waiting_retry"
    )
    assert shapes[2]["ticket"] == {**shapes[2]["ticket"], "id": 1002, "summary": None}
    assert shapes[6]["latest_writeback"]["kind"] == "resolution"
    assert shapes[7]["active_fix"] is None and shapes[0]["latest_writeback"] is None


async def test_session_list_renders_each_session_as_the_single_read_does(client, engineer_headers):
    _, ids = await _varied_sessions(client)
    page = await (await client.get("/api/v1/ai-sessions?limit=50", headers=engineer_headers)).json()
    assert [s["id"] for s in page["items"]] == sorted(ids, reverse=True)
    for item in page["items"]:
        one = await client.get(f"/api/v1/ai-sessions/{item['id']}", headers=engineer_headers)
        assert await one.json() == item


def _count_statements(client) -> list[str]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        # Only the requests' statements, not the background workers' (their task has no
        # request id bound).
        if "request_id" in structlog.contextvars.get_contextvars():
            statements.append(statement)

    event.listen(db_of(client).engine.sync_engine, "before_cursor_execute", record)
    # The hot reads' own connections: SQLite's read-only one, PostgreSQL's asyncpg pool.
    db_of(client).hot_reads.observers.append(lambda statement: record(None, None, statement))
    return statements


@pytest.fixture
async def quiet_client(aiohttp_client, make_settings):
    """An app whose workers poll once an hour: every statement counted is the request's."""
    from plugin.app import create_app

    return await aiohttp_client(create_app(make_settings(worker_poll_seconds=3600)))


async def test_session_read_costs_at_most_two_statements_including_auth(quiet_client):
    client = quiet_client
    engineer_headers = {"Authorization": f"Bearer {await _token(client, 'engineer')}"}
    _, ids = await _varied_sessions(client)
    url = f"/api/v1/ai-sessions/{ids[1]}"
    statements = _count_statements(client)
    assert (await client.get(url, headers=engineer_headers)).status == 200  # token not cached
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, statements  # the token, then the session
    statements.clear()
    for _ in range(3):
        assert (await client.get(url, headers=engineer_headers)).status == 200
        assert len(statements) <= 2, statements  # SQLite's BEGIN and the one SELECT
        assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 1
        statements.clear()


async def test_another_accounts_session_is_still_404_on_the_lean_read(client, engineer_headers):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account

    _, ids = await _varied_sessions(client)
    async with db_of(client).write() as tx:
        other = Account(slug="other", name="Other", preferences={})
        tx.add(other)
        await tx.flush()
        token, _ = await create_token(tx, other, role="admin")
    resp = await client.get(
        f"/api/v1/ai-sessions/{ids[1]}", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "ai_session_not_found"


# --- Bearer tokens from a short cache ---
async def _pod_token(client, expires_in: timedelta | None = None) -> str:
    from plugin.features.accounts.auth import create_token

    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        token, _ = await create_token(
            tx,
            account,
            role="engineer",
            kind="pod",
            member_id="jsmith",
            expires_at=utcnow() + expires_in if expires_in else None,
        )
    return token


async def test_a_token_revoked_on_another_replica_stops_working_within_the_cache_seconds(
    quiet_client,
):
    from sqlalchemy import update

    from plugin.features.accounts.auth import CACHE_SECONDS, TOKEN_CACHE
    from plugin.features.accounts.models import ApiToken

    client = quiet_client
    moment = [100.0]
    client.app[TOKEN_CACHE].clock = lambda: moment[0]
    headers = {"Authorization": f"Bearer {await _pod_token(client)}"}
    assert (await client.get("/api/v1/me", headers=headers)).status == 200
    async with db_of(client).write() as tx:  # what another replica's revocation writes
        await tx.execute(update(ApiToken).values(revoked_at=utcnow()))
    moment[0] += CACHE_SECONDS - 0.5
    assert (await client.get("/api/v1/me", headers=headers)).status == 200  # still cached
    moment[0] += 0.5
    resp = await client.get("/api/v1/me", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_token"


async def test_an_expired_token_is_refused_at_once_from_the_cache(quiet_client):
    from plugin.features.accounts.auth import TOKEN_CACHE

    client = quiet_client
    now = [utcnow()]
    cache = client.app[TOKEN_CACHE]
    cache.clock, cache.wall = (lambda: 0.0), (lambda: now[0])
    headers = {"Authorization": f"Bearer {await _pod_token(client, timedelta(minutes=1))}"}
    assert (await client.get("/api/v1/me", headers=headers)).status == 200
    statements = _count_statements(client)
    now[0] += timedelta(minutes=1, seconds=1)
    resp = await client.get("/api/v1/me", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "token_expired"
    assert statements == []  # decided from the cache entry, without a query


async def test_token_use_is_recorded_once_per_resolution_not_per_request(quiet_client):
    from plugin.features.accounts.auth import LAST_USED_RESOLUTION, TOKEN_CACHE

    client = quiet_client
    now = [utcnow()]
    moment = [0.0]
    cache = client.app[TOKEN_CACHE]
    cache.clock, cache.wall = (lambda: moment[0]), (lambda: now[0])
    headers = {"Authorization": f"Bearer {await _pod_token(client)}"}
    statements = _count_statements(client)
    for _ in range(4):
        assert (await client.get("/api/v1/me", headers=headers)).status == 200
        moment[0] += 10  # past the cache: the token is read again, its use not rewritten
    updates = [s for s in statements if s.startswith("UPDATE api_tokens")]
    assert len(updates) == 1
    now[0] += LAST_USED_RESOLUTION + timedelta(seconds=1)
    assert (await client.get("/api/v1/me", headers=headers)).status == 200
    assert len([s for s in statements if s.startswith("UPDATE api_tokens")]) == 2


# --- The request log line ---
@contextmanager
def _json_logs():
    import logging

    from plugin.kernel.logging import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json", "info")
    try:
        yield
    finally:
        configure_logging("console", "info")  # turns the pre-rendered JSON lines off again
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level


async def test_request_lines_skip_the_scrubbers_but_a_client_sent_request_id_is_scrubbed(
    client, engineer_headers, capsys, monkeypatch
):
    import json

    import plugin.kernel.logging as logs

    scrubbed: list[str] = []

    def counting_redact(text: str) -> str:
        scrubbed.append(text)
        return logs_redact(text)

    logs_redact = logs.redact_text
    monkeypatch.setattr(logs, "redact_text", counting_redact)
    capsys.readouterr()
    with _json_logs():
        first = await client.get("/api/v1/me", headers=engineer_headers)
        second = await client.get("/api/v1/me", headers=engineer_headers)
        assert scrubbed == []  # our own ids, method and route: nothing to scrub
        secret_id = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
        third = await client.get(
            "/api/v1/me", headers={**engineer_headers, "X-Request-ID": secret_id}
        )
        assert third.headers["X-Request-ID"] == secret_id  # echoed to its sender, not logged
        err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) == 3
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert ids[0] != ids[1] and [r["request_id"] for r in requests[:2]] == ids
    assert requests[0].keys() == {
        "request_id", "method", "route", "status", "ms", "event", "level", "logger", "timestamp"
    }  # fmt: skip
    assert requests[0]["route"] == "/api/v1/me" and requests[0]["status"] == 200
    assert secret_id not in err and scrubbed == [secret_id]


async def test_the_hot_read_pool_is_closed_with_the_database(aiohttp_client, make_settings):
    """PostgreSQL's hot reads have a pool of their own: it must not outlive the app."""
    from plugin.app import create_app
    from tests.conftest import BACKEND, PG_ADMIN_URL

    if BACKEND == "sqlite":
        pytest.skip("SQLite's hot reads hold one file connection, no server to ask about it")
    import asyncpg

    client = await aiohttp_client(create_app(make_settings(worker_poll_seconds=3600)))
    headers = {"Authorization": f"Bearer {await _token(client, 'engineer')}"}
    _, ids = await _varied_sessions(client)
    assert (await client.get(f"/api/v1/ai-sessions/{ids[1]}", headers=headers)).status == 200
    name = make_url(db_of(client).url).database
    admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
        assert await admin.fetchval(count, name) >= 1
        await client.close()
        for _ in range(50):  # the server notices a closed socket a moment later
            if await admin.fetchval(count, name) == 0:
                break
            await asyncio.sleep(0.1)
        assert await admin.fetchval(count, name) == 0
    finally:
        await admin.close()


async def test_a_hot_read_on_a_connection_the_server_dropped_is_run_again(quiet_client):
    """No ping before each hot read on PostgreSQL: a dropped connection is found by the read
    itself, and the read is retried once on a new connection instead of answering 503."""
    from tests.conftest import BACKEND, PG_ADMIN_URL

    if BACKEND == "sqlite":
        pytest.skip("SQLite has no server to drop a connection")
    import asyncpg

    client = quiet_client
    headers = {"Authorization": f"Bearer {await _token(client, 'engineer')}"}
    _, ids = await _varied_sessions(client)
    url = f"/api/v1/ai-sessions/{ids[1]}"
    assert (await client.get(url, headers=headers)).status == 200
    admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            make_url(db_of(client).url).database,
        )
    finally:
        await admin.close()
    assert dropped >= 1
    resp = await client.get(url, headers=headers)  # the token is cached: only the hot read
    assert resp.status == 200, await resp.text()


async def test_an_unreachable_postgresql_fails_a_hot_read_as_the_engine_would():
    """The service answers 503 for a database error (DBAPIError); a hot read bypassing the
    engine must raise the same, not the driver's own exception (a 500)."""
    from sqlalchemy import literal
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    from plugin.kernel.hot_reads import HotReads

    url = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"  # the discard port: refused
    engine = create_async_engine(url)
    hot = HotReads(url, engine)
    try:
        with pytest.raises(DBAPIError):
            await hot.rows(select(literal(1).label("one")), {})
    finally:
        await hot.dispose()
        await engine.dispose()
