"""One-statement reads for the hot paths (the pod's session view, a token's first use).

One SELECT is one read transaction on both backends, so it needs no BEGIN around it:
- PostgreSQL: the statement runs on a small pool of autocommit connections: no BEGIN and
  ROLLBACK round trips, and no checkout ping (the main pool pings inside a transaction:
  BEGIN, ";", ROLLBACK); a connection found dropped is replaced and the read run again.
  The pool is disposed with the database's engine.
- SQLite: the statement runs inline on the event loop over a plain sqlite3 connection.
  aiosqlite hops to its thread and back for every cursor, execute, fetch, close and
  rollback, and each hop waits for the GIL behind the loop: eight hops cost far more than
  the microseconds a primary-key read takes. In WAL mode a reader never waits for a writer;
  the connection is read-only and gives up after BUSY_MS (a WAL recovery, say), falling
  back to the ordinary asynchronous path.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from plugin.kernel.db import Database

BUSY_MS = 50
PG_POOL_SIZE = 5
_engines: WeakKeyDictionary[Database, Engine | None] = WeakKeyDictionary()
_pg_engines: WeakKeyDictionary[Database, AsyncEngine] = WeakKeyDictionary()


async def read_rows(database: Database, stmt: Executable, params: dict[str, Any]) -> list[Row]:
    engine = inline_engine(database)
    if engine is not None:
        try:
            with engine.connect() as conn:
                return list(conn.execute(stmt, params).all())
        except OperationalError:
            pass  # busy: wait for it off the loop, below
    if database.is_sqlite:
        async with database.engine.connect() as conn:
            return list((await conn.execute(stmt, params)).all())
    for attempt in (1, 2):
        try:
            async with _pg_engine(database).connect() as conn:
                return list((await conn.execute(stmt, params)).all())
        except DBAPIError as exc:
            # No ping per checkout: a connection the server dropped (a restart, a failover)
            # fails its first read instead, and the read is run once more on a new one.
            if not exc.connection_invalidated or attempt == 2:
                raise
    raise AssertionError("unreachable")


def hot_read_engine(database: Database) -> Engine:
    """The engine read_rows runs its statements on, to listen to (tests count statements)."""
    return (
        inline_engine(database)
        or (database.engine if database.is_sqlite else _pg_engine(database)).sync_engine
    )


def _pg_engine(database: Database) -> AsyncEngine:
    engine = _pg_engines.get(database)
    if engine is None:
        engine = _pg_engines[database] = create_async_engine(
            database.url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,  # see read_rows: a dropped connection is retried once
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_POOL_SIZE,
            hide_parameters=True,
        )

        def dispose_with(_main: Engine) -> None:
            # Runs inside the main engine's dispose (a greenlet: the sync dispose may await).
            if _pg_engines.get(database) is engine:
                del _pg_engines[database]
            engine.sync_engine.dispose()

        event.listen(database.engine.sync_engine, "engine_disposed", dispose_with)
    return engine


def inline_engine(database: Database) -> Engine | None:
    """The synchronous read-only engine over a SQLite database's file (None: PostgreSQL or
    an in-memory database)."""
    if database in _engines:
        return _engines[database]
    engine = None
    url = make_url(database.url)
    if database.is_sqlite and url.database not in (None, "", ":memory:"):
        engine = create_engine(
            url.set(drivername="sqlite"),
            connect_args={"timeout": BUSY_MS / 1000, "check_same_thread": False},
            hide_parameters=True,  # as the main engine: no values in error text
        )
        event.listen(engine, "connect", _read_only)
    _engines[database] = engine
    return engine


def _read_only(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    cursor.close()
