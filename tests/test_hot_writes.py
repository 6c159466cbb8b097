"""Intake's group-commit insert on a driver connection of its own (kernel/hot_writes.py):
rows stored exactly as the engine stores them, one transaction per batch, the engine's
errors and, on SQLite, the engine's durability and locking."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from plugin.features.accounts.service import ensure_default_account
from plugin.features.callbacks.models import PSACallbackEvent
from plugin.features.callbacks.writer import _INSERT_EVENTS, store_batch
from plugin.kernel.db import Database
from plugin.kernel.hot_writes import json_text
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import get_account_by_slug

AWARE = datetime(2026, 11, 30, 5, 6, 7, 891011, tzinfo=UTC)
PAYLOAD = {
    "action": "updated",
    "entity": {"id": 7, "summary": "Drucker «PRN-01» läuft nicht ✓", "nested": [1, 2.5, None]},
    "key_url": None,
    "big": 2**53 + 1,
    "flag": True,
}


@pytest.fixture
async def database(database_url):
    db = Database(database_url)
    settings = Settings.model_construct(**{**Settings().model_dump(), "database_url": database_url})
    await ensure_default_account(db, settings)
    yield db
    await db.dispose()


async def account_id(db: Database) -> int:
    async with db.read() as session:
        return (await get_account_by_slug(session, "default")).id


def event_row(account: int, **overrides) -> dict:
    return {
        "account_id": account,
        "dedupe_key": uuid.uuid4().hex,
        "record_id": 2**40,  # a 64-bit id
        "event_type": "ticket",
        "action": "updated",
        "payload": PAYLOAD,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": AWARE,
        "received_at": AWARE + timedelta(seconds=1),
        **overrides,
    }


async def stored(db: Database, dedupe_key: str) -> dict:
    """A stored event as the ORM reads it, every column but the id."""
    async with db.read() as session:
        event = (
            await session.execute(
                select(PSACallbackEvent).where(PSACallbackEvent.dedupe_key == dedupe_key)
            )
        ).scalar_one()
    columns = PSACallbackEvent.__table__.columns.keys()
    return {c: getattr(event, c) for c in columns if c not in ("id", "dedupe_key")}


async def test_a_row_is_stored_exactly_as_the_engine_stores_it(database):
    account = await account_id(database)
    by_engine, by_hot_write = event_row(account), event_row(account)
    async with database.write() as tx:
        tx.add(PSACallbackEvent(**by_engine))

    returned = await database.hot_writes.insert_or_ignore(_INSERT_EVENTS, [by_hot_write])

    assert [r["dedupe_key"] for r in returned] == [by_hot_write["dedupe_key"]]
    assert isinstance(returned[0]["id"], int)
    engine_row = await stored(database, by_engine["dedupe_key"])
    hot_row = await stored(database, by_hot_write["dedupe_key"])
    assert hot_row == engine_row
    assert hot_row["payload"] == PAYLOAD
    assert hot_row["next_attempt_at"] == AWARE and hot_row["last_error"] is None


async def test_a_batch_returns_what_it_stored_and_skips_what_was_there(database):
    account = await account_id(database)
    rows = [event_row(account) for _ in range(40)]
    first = await store_batch(database, rows[:10])

    again = await store_batch(database, rows[5:] + [dict(rows[20])])  # 5 stored, 1 twice

    assert all(isinstance(i, int) for i in first)
    assert again[:5] == [None] * 5
    assert all(isinstance(i, int) for i in again[5:35]) and again[35] is None
    assert len(set(first) | set(again[5:35])) == 40
    async with database.read() as session:
        keys = (await session.execute(select(PSACallbackEvent.dedupe_key))).scalars().all()
    assert sorted(keys) == sorted(r["dedupe_key"] for r in rows)


async def test_batches_of_every_size_up_to_the_writers_limit_share_one_compiled_insert(database):
    account = await account_id(database)
    for size in (1, 2, 3, 64, 255, 256, 1000):
        ids = await store_batch(database, [event_row(account) for _ in range(size)])
        assert len(ids) == size and None not in ids
    assert len(database.hot_writes._compiled) == 1  # not one per size (memory, PG's cache)


async def test_a_refused_row_is_the_engines_error_and_nothing_of_the_batch_stays(database):
    account = await account_id(database)
    rows = [event_row(account) for _ in range(5)]
    rows[3]["account_id"] = 999_999  # no such account: the foreign key refuses it

    with pytest.raises(IntegrityError):
        await store_batch(database, rows)

    async with database.read() as session:
        assert (await session.execute(select(PSACallbackEvent.id))).first() is None
    assert len(await store_batch(database, rows[:3])) == 3  # the connection is still good


async def test_rows_naming_different_columns_are_refused(database):
    account = await account_id(database)
    with pytest.raises(ValueError, match="same columns"):
        await database.hot_writes.insert_or_ignore(
            _INSERT_EVENTS, [event_row(account), {**event_row(account), "last_error": "x"}]
        )


async def test_sqlite_hot_writes_are_as_durable_as_the_engines(database):
    if not database.is_sqlite:
        pytest.skip("SQLite's connection settings")
    account = await account_id(database)
    await store_batch(database, [event_row(account)])
    writer = database.hot_writes._sqlite
    loop = asyncio.get_running_loop()

    def pragmas() -> tuple:
        conn = writer._conn
        return tuple(
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("synchronous", "journal_mode", "foreign_keys", "busy_timeout")
        )

    assert await loop.run_in_executor(writer._thread, pragmas) == (2, "wal", 1, 5000)  # 2: FULL


async def test_a_sqlite_write_waits_for_another_writer_to_finish(database):
    if not database.is_sqlite:
        pytest.skip("SQLite's write lock")
    account = await account_id(database)
    other = sqlite3.connect(make_url(database.url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock...
    asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")  # ...for 0.3 s

    ids = await store_batch(database, [event_row(account)])

    other.close()
    assert ids[0] is not None


async def test_a_sqlite_url_with_options_is_written_through_the_engine(database_factory):
    url = await database_factory.migrated()
    if not url.startswith("sqlite"):
        pytest.skip("SQLite URLs")
    db = Database(url + "?timeout=5")
    settings = Settings.model_construct(**{**Settings().model_dump(), "database_url": url})
    await ensure_default_account(db, settings)
    try:
        assert not db.hot_writes._sqlite.available
        row = event_row(await account_id(db))
        (event_id,) = await store_batch(db, [row])
        assert (await stored(db, row["dedupe_key"]))["payload"] == PAYLOAD
        assert (await store_batch(db, [row])) == [None]
        assert isinstance(event_id, int)
    finally:
        await db.dispose()


async def test_a_batch_on_a_connection_the_server_dropped_is_sent_again(database):
    if database.is_sqlite:
        pytest.skip("SQLite has no server to drop a connection")
    import asyncpg

    from tests.conftest import PG_ADMIN_URL

    account = await account_id(database)
    await store_batch(database, [event_row(account)])  # the hot path's pool is open
    admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            make_url(database.url).database,
        )
    finally:
        await admin.close()
    assert dropped >= 1

    rows = [event_row(account) for _ in range(3)]
    ids = await store_batch(database, rows)

    assert None not in ids
    for row in rows:
        assert (await stored(database, row["dedupe_key"]))["payload"] == PAYLOAD


async def test_an_unreachable_postgresql_fails_a_batch_as_the_engine_would():
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(DBAPIError):
            await store_batch(db, [event_row(1)])
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    "value",
    [
        PAYLOAD,
        {
            "n": 2**80,
            "s": "\u2028 \ud800",
        },  # past 64 bits, a lone surrogate: json.dumps writes them
        {1: "a key that is not a string"},
        [],
        "",
    ],
)
def test_json_text_holds_the_value_json_dumps_would(value):
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "value", [{"at": AWARE}, {"e": ValueError("x")}, {"n": 2**70, "f": float("inf")}]
)
def test_json_text_refuses_what_json_dumps_refuses(value):
    with pytest.raises((TypeError, ValueError)):
        json_text(value)
