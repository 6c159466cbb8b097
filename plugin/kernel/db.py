"""Database plumbing: declarative base with named constraints, the engine, and transactions.

SQLite is the embedded default: WAL, a busy timeout, foreign keys on, and write
transactions that take the write lock up front (BEGIN IMMEDIATE) so two writers queue
instead of failing half-way with "database is locked". PostgreSQL is the multi-replica
deployment.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, Insert, Integer, MetaData, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from plugin.kernel.hot_reads import HotReads
from plugin.kernel.hot_writes import HotWrites

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BUSY_TIMEOUT_MS = 5000
# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race and
# was rolled back whole, so running it again is safe and usually succeeds.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 3
SQLITE_BEGIN_ATTEMPTS = 4
# Every SQLite connection's settings (the engine's and the hot writes').
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "foreign_keys=ON",
    # FULL, not NORMAL: in WAL mode NORMAL skips the flush at commit, so an OS crash or
    # power loss can undo the last commits, callbacks already answered 2xx among them.
    # Intake group-commits (callbacks/writer.py), so the extra flush is paid per batch.
    "synchronous=FULL",
)
T = TypeVar("T")

# Every id and foreign key (a bare `Mapped[int]`) is 64-bit on PostgreSQL, so an id the API
# accepts always fits its column; SQLite keeps INTEGER, whose primary key is the 64-bit rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigId}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on both backends (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# None is SQL NULL here, not the JSON value null (JSONType's default).
NullableJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # hide_parameters: an error's text must never carry the values of a statement
        # (chat text, keys) into logs or stored error fields.
        kwargs: dict = {
            "echo": echo,
            "pool_pre_ping": not self.is_sqlite,
            "hide_parameters": True,
        }
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=10)
        self.engine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.hot_reads = HotReads(url, self.engine)
        self.hot_writes = HotWrites(
            url,
            self.engine,
            self.hot_reads.pg,
            sqlite_pragmas=SQLITE_PRAGMAS,
            begin_attempts=SQLITE_BEGIN_ATTEMPTS,
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as db:
            yield db

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on any exception."""
        async with self.sessionmaker() as tx:
            await self._begin_write(tx)
            try:
                yield tx
                await tx.commit()
            except BaseException:
                await tx.rollback()
                raise

    async def _begin_write(self, tx: AsyncSession) -> None:
        # SQLite's busy handler polls rather than queues, so under a burst of writers one
        # can wait out the busy timeout. Nothing has run yet when BEGIN IMMEDIATE gives up:
        # waiting for the write lock again is safe (up to SQLITE_BEGIN_ATTEMPTS timeouts).
        for attempt in range(1, SQLITE_BEGIN_ATTEMPTS + 1):
            try:
                await tx.connection(execution_options={"fixpilot_write": True})
                return
            except OperationalError as exc:
                locked = self.is_sqlite and "database is locked" in str(exc.orig)
                if not locked or attempt == SQLITE_BEGIN_ATTEMPTS:
                    raise
                await tx.rollback()

    async def write_retrying(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = WRITE_ATTEMPTS
    ) -> T:
        """`work` in a write transaction, run again (at most `attempts` times in all, after a
        short jittered pause) when the database aborts it as a deadlock victim or a
        serialization failure. `work` must do nothing outside `tx` that can't be repeated."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.write() as tx:
                    return await work(tx)
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                await asyncio.sleep(random.uniform(0.01, 0.05) * 2**attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def insert(self, table) -> Insert:
        """INSERT with this backend's ON CONFLICT support."""
        return insert_for(self.engine.dialect.name, table)

    async def dispose(self) -> None:
        await self.hot_writes.dispose()
        await self.hot_reads.dispose()
        await self.engine.dispose()


def is_retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def insert_for(dialect_name: str, table) -> Insert:
    """An INSERT that knows ON CONFLICT for the dialect at hand (SQLite or PostgreSQL)."""
    return sqlite_insert(table) if dialect_name == "sqlite" else pg_insert(table)


def _configure_sqlite(sync_engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:
        write = conn.get_execution_options().get("fixpilot_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
