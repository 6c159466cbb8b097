"""Insert-or-ignore of many rows as one statement: callback intake's group commit.

Intake stores every waiting callback in one transaction, and through the engine that
transaction cost more than the disk did: SQLAlchemy's per-row parameter handling and, on
SQLite, aiosqlite's thread hop for each BEGIN, execute, fetch, close, COMMIT and the pool's
reset, each hop waiting for the event loop. Here an insert is compiled once for the columns
its rows name, each column type's own bind processor converts every value (so a row reads
back exactly as one the engine stored; JSON is written by orjson, `json_text`), and the
whole transaction is one trip:
- PostgreSQL: one INSERT … SELECT * FROM unnest(one array per column) … ON CONFLICT DO
  NOTHING RETURNING, its own transaction: one prepared statement for any number of rows, on
  the hot reads' asyncpg connections. A connection found dropped is replaced and the
  statement sent again; if the first one had committed, its rows come back as duplicates,
  which is what they now are (stored, once).
- SQLite: BEGIN IMMEDIATE, a multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, COMMIT, on
  one connection owned by one thread (writes wait for the disk and for the write lock, so
  never on the loop), with the engine's pragmas: WAL, synchronous=FULL, foreign keys, the
  busy timeout.
A failure leaves nothing of the batch stored. The database's refusals are raised as the
engine would raise them (a `DBAPIError`), so the service's answers stay the same; a value
its column type cannot take raises as that type's bind processor does.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import NullType, TypeEngine

from plugin.kernel.hot_reads import PgConnections, Processor, processed_row, sqlite_file

# Hot writes are module-level inserts, each compiled once for the columns its rows name.
MAX_STATEMENTS = 64


@dataclass(frozen=True)
class InsertOrIgnore:
    """Rows for `table`; a row that collides on `conflict` (a unique index) is skipped, and
    `returning` is read back from every row stored."""

    table: Table
    conflict: tuple[str, ...]
    returning: tuple[str, ...]


@dataclass(frozen=True)
class _Compiled:
    """An insert compiled once for the columns its rows name, for any number of rows."""

    columns: tuple[str, ...]
    binds: tuple[Processor, ...]  # each column's type's bind processor, in `columns` order
    returned: tuple[tuple[str, Processor], ...]
    # SQLite: head + the values group once per row + tail (the text is made, not compiled,
    # per number of rows). PostgreSQL: one statement for any number, a column per array.
    head: str
    group: str
    tail: str
    pg_sql: str

    def sqlite_sql(self, n: int) -> str:
        return self.head + ", ".join([self.group] * n) + self.tail

    def values(self, row: dict[str, Any]) -> list[Any]:
        return [
            row[column] if bind is None else bind(row[column])
            for column, bind in zip(self.columns, self.binds, strict=True)
        ]

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
        self._compiled: dict[tuple[InsertOrIgnore, tuple[str, ...]], _Compiled] = {}
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
        compiled = self._compiled.get((insert, columns)) or self._compile(insert, columns)
        values = [compiled.values(row) for row in rows]
        if self._pg is not None:
            arrays = [list(column) for column in zip(*values, strict=True)]
            records = await self._pg.fetch(compiled.pg_sql, arrays)
        else:
            sql, args = compiled.sqlite_sql(len(rows)), [v for row in values for v in row]
            if self._sqlite.available:
                records = await self._sqlite.write(sql, args)
            else:  # a URL with options: through the engine, as a write transaction
                async with self._engine.execution_options(fixpilot_write=True).begin() as conn:
                    records = (await conn.exec_driver_sql(sql, tuple(args))).all()
        return [compiled.row(record) for record in records]

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()

    def _compile(self, insert: InsertOrIgnore, columns: tuple[str, ...]) -> _Compiled:
        table, dialect = insert.table, self._dialect
        quote = dialect.identifier_preparer.quote
        types = [_column_type(table.c[c]).dialect_impl(dialect) for c in columns]
        head = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
            f"({', '.join(quote(c) for c in columns)}) "
        )
        tail = (
            f" ON CONFLICT ({', '.join(quote(c) for c in insert.conflict)}) DO NOTHING"
            f" RETURNING {', '.join(quote(c) for c in insert.returning)}"
        )
        arrays = ", ".join(
            f"${i}::{type_.compile(dialect=dialect)}[]" for i, type_ in enumerate(types, 1)
        )
        if len(self._compiled) >= MAX_STATEMENTS:
            raise ValueError("hot writes are module-level inserts, compiled once each")
        compiled = self._compiled[(insert, columns)] = _Compiled(
            columns=columns,
            binds=tuple(type_.bind_processor(dialect) for type_ in types),
            returned=tuple(
                (c, table.c[c].type.dialect_impl(dialect).result_processor(dialect, None))
                for c in insert.returning
            ),
            head=head + "VALUES ",
            group="(" + ", ".join("?" * len(columns)) + ")",
            tail=tail,
            pg_sql=f"{head}SELECT * FROM unnest({arrays}){tail}",
        )
        return compiled


def _column_type(column) -> TypeEngine:
    """A column's type; a foreign key column declared without one has its target's."""
    if isinstance(column.type, NullType) and column.foreign_keys:
        return next(iter(column.foreign_keys)).column.type
    return column.type


# Values json.dumps refuses are refused here too (orjson would write them).
_AS_JSON_DUMPS_WOULD = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """A JSON column's text, written by orjson (a callback's payload: json.dumps was most of
    a batch's cost on the event loop). The same value as json.dumps writes, in fewer bytes;
    what orjson refuses (keys that are not strings, integers past 64 bits) goes to json.dumps.
    A float NaN or infinity, which JSON cannot hold, is refused by json.dumps and written null
    by orjson: callback bodies holding one are refused before they get here
    (providers/psa/connectwise/callbacks.py)."""
    try:
        return orjson.dumps(value, option=_AS_JSON_DUMPS_WOULD).decode()
    except TypeError:
        return json.dumps(value, allow_nan=False)


class _SqliteWriter:
    def __init__(self, url: str, pragmas: tuple[str, ...], begin_attempts: int) -> None:
        self._pragmas, self._begin_attempts = pragmas, begin_attempts
        self._path = sqlite_file(url)
        self.available = self._path is not None
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
