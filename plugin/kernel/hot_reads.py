"""One-statement reads for the hot paths (the pod's session view, a token's first use).

A hot read is a module-level SELECT, compiled once for the backend and then run straight on
a driver connection of its own, beside the engine's pool. On these paths SQLAlchemy's
execution machinery (its adapters, cursor emulation and result objects) cost more CPU than
the read itself. The column types' own result processors still convert every value, so a
row reads exactly as it would through the engine. One SELECT is one read transaction on
both backends, so there is no BEGIN around it:
- PostgreSQL: a prepared statement on a small asyncpg pool: no BEGIN/ROLLBACK, no checkout
  ping and no reset round trip per release; a connection found dropped is replaced and the
  read run again.
- SQLite: inline on the event loop over one read-only sqlite3 connection. aiosqlite hops to
  its thread and back for every cursor, execute, fetch and close, and each hop waits for the
  GIL behind the loop: far more than the microseconds a primary-key read takes. In WAL mode
  a reader never waits for a writer; the connection gives up after BUSY_MS (a WAL recovery,
  say) and the read goes the ordinary asynchronous way through the engine.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

BUSY_MS = 50
# Up to this many reads at once per replica; idle connections close after asyncpg's 300 s.
# Smaller pools queue reads in Python, which showed as a longer tail (pool of 3: p99 83-103 ms
# against 36-48 ms with 16, bench/pod_read.py).
PG_POOL_SIZE = 16
# Hot reads are module-level statements, each compiled once: a handful, never one per call.
MAX_STATEMENTS = 64
# What a connection the server dropped (a restart, a failover) raises on its next use.
# (InternalClientError: a connection left mid-operation by a drop, "another operation is in
# progress" on its next use.)
_DROPPED = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
)
_GIVEN = object()

StatementObserver = Callable[[str], None]
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # In parameter order: the name, its type's bind processor, and its value when the
    # statement carries it (a literal compared against), else _GIVEN.
    binds: tuple[tuple[str, Processor, Any], ...]
    columns: tuple[tuple[str, Processor], ...]  # in select order: key, result processor

    def args(self, params: dict[str, Any]) -> list[Any]:
        args = []
        for name, bind, value in self.binds:
            if value is _GIVEN:
                value = params[name]
            args.append(value if bind is None or value is None else bind(value))
        return args

    def row(self, values) -> dict[str, Any]:
        return processed_row(self.columns, values)


def processed_row(columns: tuple[tuple[str, Processor], ...], values) -> dict[str, Any]:
    """A driver's row as the engine would give it: each value through its column type's
    result processor, keyed by the column's key."""
    return {
        key: value if result is None or value is None else result(value)
        for (key, result), value in zip(columns, values, strict=True)
    }


class HotReads:
    """The hot-path reads of one database, owned and disposed by its `Database`."""

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self._engine = engine
        self.observers: list[StatementObserver] = []  # the SQL run on the hot connections
        self._compiled: dict[Select, _Compiled] = {}
        sqlite = engine.dialect.name == "sqlite"
        self._dialect: Dialect = SQLiteDialect_pysqlite() if sqlite else PGDialect_asyncpg()
        self._sqlite = _SqliteReads(url) if sqlite else None
        # Hot writes share these connections (kernel/hot_writes.py).
        self.pg = None if sqlite else PgConnections(url)

    async def rows(self, stmt: Select, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        """The statement's rows, each a mapping of its selected columns' keys to values."""
        compiled = self._compiled.get(stmt) or self._compile(stmt)
        if self.pg is not None:
            self._observe(compiled.sql)
            records = await self.pg.fetch(compiled.sql, compiled.args(params))
            return [compiled.row(r) for r in records]
        if self._sqlite is not None and self._sqlite.available:
            self._observe(compiled.sql)
            try:
                return [compiled.row(r) for r in self._sqlite.fetch(compiled, params)]
            except sqlite3.OperationalError:
                pass  # busy: wait for it off the loop, below
        async with self._engine.connect() as conn:
            return [row._mapping for row in await conn.execute(stmt, params)]

    async def dispose(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    def _observe(self, sql: str) -> None:
        for observe in self.observers:
            observe(sql)

    def _compile(self, stmt: Select) -> _Compiled:
        dialect = self._dialect
        compiled = stmt.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("hot reads take no expanding (IN) parameters")
        binds = tuple(
            (
                name,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
                _GIVEN if bind.required else bind.effective_value,
            )
            for name in compiled.positiontup or ()
            for bind in (compiled.binds[name],)
        )
        columns = tuple(
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in stmt.selected_columns
        )
        if len({key for key, _ in columns}) != len(columns):
            raise ValueError("a hot read's selected columns need distinct keys")
        if len(self._compiled) >= MAX_STATEMENTS:
            raise ValueError("hot reads are module-level statements, compiled once each")
        result = self._compiled[stmt] = _Compiled(compiled.string, binds, columns)
        return result


class _SqliteReads:
    def __init__(self, url: str) -> None:
        self._path = sqlite_file(url)
        self.available = self._path is not None
        self._conn: sqlite3.Connection | None = None

    def fetch(self, compiled: _Compiled, params: dict[str, Any]) -> list[tuple]:
        conn = self._conn or self._open()
        return conn.execute(compiled.sql, compiled.args(params)).fetchall()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        self._conn = conn
        return conn


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names plainly; None for an in-memory database or a URL with
    options, which only the engine's connections are set up for."""
    parsed = make_url(url)
    path = parsed.database if not parsed.query else None
    return None if path in (None, "", ":memory:") else path


class PgConnections:
    """A small asyncpg pool beside the engine's, for single statements: each runs in its own
    implicit transaction, so a connection holds no state between them."""

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def fetch(self, sql: str, args: list[Any]) -> list[asyncpg.Record]:
        for attempt in (1, 2):
            try:
                pool = self._pool or await self._open()
                async with pool.acquire() as conn:
                    return await conn.fetch(sql, *args)
            except _DROPPED as exc:
                # A server that dropped one connection (a restart, a failover) has dropped
                # them all: every pooled one is replaced before its next use, as the engine's
                # pool does on a disconnect.
                if self._pool is not None:
                    await self._pool.expire_connections()
                if attempt == 2:
                    raise _as_dbapi_error(sql, exc) from exc
            except (asyncpg.PostgresError, OSError) as exc:
                # As the engine would raise it: the service answers 503 for a database error.
                raise _as_dbapi_error(sql, exc) from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=PG_POOL_SIZE,
                    init=_json_codecs,
                    reset=_keep_as_is,
                )
            return self._pool


async def _keep_as_is(_conn: asyncpg.Connection) -> None:
    """Nothing to reset between reads: they take no locks, listen to nothing, set nothing
    and hold no cursor (asyncpg's default reset is a round trip on every release)."""


# SQLSTATE classes sorted into SQLAlchemy's exception classes by their DB-API meaning (the
# rest: DBAPIError itself). The service answers 503 for any of them.
_ERROR_BY_CLASS: dict[str, type[DBAPIError]] = {
    "22": DataError,
    "23": IntegrityError,
    "42": ProgrammingError,
    "08": OperationalError,
    "40": OperationalError,
    "53": OperationalError,
    "57": OperationalError,
}


def _as_dbapi_error(sql: str, exc: Exception) -> DBAPIError:
    sqlstate = getattr(exc, "sqlstate", None) or ""
    error = _ERROR_BY_CLASS.get(sqlstate[:2], DBAPIError)
    return error(sql, None, exc, hide_parameters=True)


async def _json_codecs(conn: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg dialect sets them up, so JSON values bind and read the same.
    await conn.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda raw: json.loads(raw.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),
        decoder=lambda raw: json.loads(raw[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )
