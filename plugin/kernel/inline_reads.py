"""One-statement reads for the hot paths (the pod's session view, a token's first use).

One SELECT is one read transaction on both backends, so it needs no BEGIN around it:
- PostgreSQL: the statement runs in autocommit: no BEGIN and ROLLBACK round trips. (The
  pool's checkout ping still costs three, BEGIN, ";" and ROLLBACK: a pool whose connections
  are autocommit from the start would ping in one, see Database in plugin.kernel.db.)
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
from sqlalchemy.exc import OperationalError

from plugin.kernel.db import Database

BUSY_MS = 50
_engines: WeakKeyDictionary[Database, Engine | None] = WeakKeyDictionary()


async def read_rows(database: Database, stmt: Executable, params: dict[str, Any]) -> list[Row]:
    engine = inline_engine(database)
    if engine is not None:
        try:
            with engine.connect() as conn:
                return list(conn.execute(stmt, params).all())
        except OperationalError:
            pass  # busy: wait for it off the loop, below
    async with database.engine.connect() as conn:
        if not database.is_sqlite:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return list((await conn.execute(stmt, params)).all())


def hot_read_engine(database: Database) -> Engine:
    """The engine read_rows runs its statements on, to listen to (tests count statements)."""
    return inline_engine(database) or database.engine.sync_engine


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
