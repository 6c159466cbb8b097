"""Insert-or-ignore of many rows as one statement: callback intake's group commit.

Intake stores every waiting callback in one transaction, and through the engine that
transaction cost more than the disk did: SQLAlchemy's per-row parameter handling and, on
SQLite, aiosqlite's thread hop for each BEGIN, execute, fetch, close, COMMIT and the pool's
reset, each hop waiting for the event loop. Here the statement for n rows is compiled once
per n, the column types' own bind processors convert every value (so a row reads back exactly
as one the engine stored; JSON is written by orjson, `json_text`), and the whole transaction
is one trip:
- PostgreSQL: one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, which is its own
  transaction, on the hot reads' asyncpg connections. A connection found dropped is replaced
  and the statement sent again; if the first one had committed, its rows come back as
  duplicates, which is what they now are (stored, once).
- SQLite: BEGIN IMMEDIATE, the INSERT, COMMIT, on one connection owned by one thread (writes
  wait for the disk and for the write lock, so never on the loop), with the engine's
  pragmas: WAL, synchronous=FULL, foreign keys, the busy timeout.
A failure leaves nothing of the batch stored and is raised as the engine would raise it
(a `DBAPIError`), so the service's answers stay the same.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from plugin.kernel.hot_reads import PgConnections, Processor, processed_row

# One compiled statement per batch size and insert: intake's batches are at most 256 rows.
MAX_STATEMENTS = 1024


@dataclass(frozen=True)
class InsertOrIgnore:
    """Rows for `table`; a row that collides on `conflict` (a unique index) is skipped, and
    `returning` is read back from every row stored."""

    table: Table
    conflict: tuple[str, ...]
    returning: tuple[str, ...]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[int, str, Processor], ...]  # in parameter order: row, column, processor
    returned: tuple[tuple[str, Processor], ...]

    def args(self, rows: list[dict[str, Any]]) -> list[Any]:
        args = []
        for index, column, bind in self.binds:
            value = rows[index][column]
            args.append(value if bind is None or value is None else bind(value))
        return args

    def row(self, values) -> dict[str, Any]:
        return processed_row(self.returned, values)


class HotWrites:
    """The group-commit inserts of one database, owned and disposed by its `Database`."""

    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        pg: PgConnections | None,
        *,
        sqlite_pragmas: tuple[str, ...],
        begin_attempts: int,
    ) -> None:
        """`sqlite_pragmas` and `begin_attempts` as the engine's connections have them: its
        settings, and how many busy timeouts a write waits out for SQLite's write lock."""
        self._engine = engine
        sqlite = engine.dialect.name == "sqlite"
        dialect = SQLiteDialect_pysqlite if sqlite else PGDialect_asyncpg
        self._dialect: Dialect = dialect(json_serializer=json_text)
        self._compiled: dict[tuple[InsertOrIgnore, int, tuple[str, ...]], _Compiled] = {}
        self._pg = pg
        self._sqlite = _SqliteWriter(url, sqlite_pragmas, begin_attempts) if sqlite else None

    async def insert_or_ignore(
        self, insert: InsertOrIgnore, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store the rows in one transaction: the `returning` columns of each row stored (a
        row skipped as a duplicate returns nothing). Every row names the same columns."""
        if not rows:
            return []
        columns = tuple(rows[0])
        if any(tuple(row) != columns for row in rows):
            raise ValueError("every row of one insert names the same columns")
        compiled = self._compile(insert, len(rows), columns)
        args = compiled.args(rows)
        if self._pg is not None:
            records = await self._pg.fetch(compiled.sql, args)
        elif self._sqlite.available:
            records = await self._sqlite.write(compiled.sql, args)
        else:  # an in-memory database lives in the engine's connection only
            async with self._engine.begin() as conn:
                records = (await conn.exec_driver_sql(compiled.sql, tuple(args))).all()
        return [compiled.row(record) for record in records]

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()

    def _compile(self, insert: InsertOrIgnore, n: int, columns: tuple[str, ...]) -> _Compiled:
        key = (insert, n, columns)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        table, dialect = insert.table, self._dialect
        make = sqlite_insert if dialect.name == "sqlite" else pg_insert
        stmt = (
            make(table)
            .values(
                [
                    {c: bindparam(f"r{i}_{c}", type_=table.c[c].type) for c in columns}
                    for i in range(n)
                ]
            )
            .on_conflict_do_nothing(index_elements=list(insert.conflict))
            .returning(*(table.c[c] for c in insert.returning))
        )
        done = stmt.compile(dialect=dialect)
        where = {f"r{i}_{c}": (i, c) for i in range(n) for c in columns}
        binds = tuple(
            (*where[name], done.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in done.positiontup
        )
        returned = tuple(
            (c, table.c[c].type.dialect_impl(dialect).result_processor(dialect, None))
            for c in insert.returning
        )
        if len(self._compiled) >= MAX_STATEMENTS:
            self._compiled.clear()
        compiled = self._compiled[key] = _Compiled(done.string, binds, returned)
        return compiled


# Values json.dumps refuses are refused here too (orjson would write them).
_AS_JSON_DUMPS_WOULD = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """A JSON column's text, written by orjson (a callback's payload: json.dumps was most of
    a batch's cost on the event loop). The same value as json.dumps writes, in fewer bytes;
    what orjson refuses (keys that are not strings, integers past 64 bits) goes to json.dumps.
    A float NaN or infinity, which JSON cannot hold, is written null (callback bodies with
    them are refused, providers/psa/connectwise/callbacks.py)."""
    try:
        return orjson.dumps(value, option=_AS_JSON_DUMPS_WOULD).decode()
    except TypeError:
        return json.dumps(value)


class _SqliteWriter:
    def __init__(self, url: str, pragmas: tuple[str, ...], begin_attempts: int) -> None:
        self._pragmas, self._begin_attempts = pragmas, begin_attempts
        parsed = make_url(url)
        self._path = parsed.database if not parsed.query else None
        self.available = self._path not in (None, "", ":memory:")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-hot-writes")
        self._conn: sqlite3.Connection | None = None  # used on that thread only
        self._used = False

    async def write(self, sql: str, args: list[Any]) -> list[tuple]:
        self._used = True
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._transaction, sql, args)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error, hide_parameters=True) from exc

    async def close(self) -> None:
        if self._used:  # (else there is no thread: most databases never store a callback)
            # Queued behind any write still running: the connection closes on its thread.
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    def _transaction(self, sql: str, args: list[Any]) -> list[tuple]:
        conn = self._conn or self._open()
        self._begin(conn)
        try:
            rows = conn.execute(sql, args).fetchall()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return rows

    def _begin(self, conn: sqlite3.Connection) -> None:
        # Nothing has run when BEGIN IMMEDIATE gives up, so waiting again is safe.
        for attempt in range(1, self._begin_attempts + 1):
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "database is locked" not in str(exc) or attempt == self._begin_attempts:
                    raise

    def _open(self) -> sqlite3.Connection:
        # (The busy timeout is among the pragmas.)
        conn = sqlite3.connect(self._path, isolation_level=None)
        for pragma in self._pragmas:
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
