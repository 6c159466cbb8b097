"""Group commit for callback intake: one writer task stores the callbacks of every waiting
request in one transaction, then answers them all.

A durable commit costs a disk flush (SQLite `synchronous=FULL`, PostgreSQL's WAL flush); one
flush per request caps intake at the disk's flush rate, one per batch does not. While a batch
is being written the next one gathers, so batches grow with the load by themselves; after a
quiet spell, a short linger lets a burst's first requests share a batch too. A failed batch
fails every request in it (they answer 429 and ConnectWise retries), and since it was one
transaction nothing of it is half-stored. A request whose callback is not stored by its
deadline is answered StoreTooSlow by one timer for all of them (not a timer per request:
intake's hot path).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import structlog

from plugin.features.callbacks.models import PSACallbackEvent
from plugin.kernel.db import Database, utcnow
from plugin.kernel.hot_writes import InsertOrIgnore
from plugin.kernel.states import CallbackEventStatus

log = structlog.get_logger("fixpilot.callbacks.writer")

EventKey = tuple[int, str]  # (account id, dedupe key)
_INSERT_EVENTS = InsertOrIgnore(
    PSACallbackEvent.__table__,
    conflict=("account_id", "dedupe_key"),
    returning=("id", "account_id", "dedupe_key"),
)


class StoreTooSlow(Exception):
    """The callback was not stored by its deadline; it may still land in its batch."""


async def store_batch(database: Database, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert-or-ignore every row on (account, dedupe key) in one transaction: each row's new
    id, or None for a duplicate (of a stored event or of an earlier row of the batch)."""
    now = utcnow()
    first: dict[EventKey, dict[str, Any]] = {}
    for row in rows:
        first.setdefault((row["account_id"], row["dedupe_key"]), row)
    values = [
        {
            "status": CallbackEventStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
            **row,
        }
        for row in first.values()
    ]
    # One statement, one trip (kernel/hot_writes.py): the engine's execution machinery cost
    # intake more than the disk flush did.
    returned = await database.hot_writes.insert_or_ignore(_INSERT_EVENTS, values)
    stored = {(r["account_id"], r["dedupe_key"]): r["id"] for r in returned}
    return [
        stored.get(key) if first[key] is row else None
        for row in rows
        for key in [(row["account_id"], row["dedupe_key"])]
    ]


async def store_event(database: Database, values: dict[str, Any]) -> int | None:
    """One event on its own: the new id, or None for a duplicate."""
    return (await store_batch(database, [values]))[0]


@dataclass
class _Waiting:
    values: dict[str, Any]
    answer: asyncio.Future


@dataclass
class IntakeWriter:
    database: Database
    max_batch: int = 256
    linger: float = 0.001  # seconds a batch waits for company once its first request came
    # ...but only the first batch after this many quiet seconds (a burst's start): under
    # steady load the next batch gathers while one is written, and waiting adds latency only.
    linger_after_quiet: float = 0.05
    deadline: float = 2.0  # seconds a request waits for its store before StoreTooSlow
    _waiting: list[_Waiting] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Set while no request waits for its callback to be stored (shutdown waits for it).
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None
    _last_submit: float = float("-inf")
    _last_written: float = float("-inf")
    _by_deadline: deque[tuple[float, asyncio.Future]] = field(default_factory=deque)
    _sweeper: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self.idle.set()

    def submit(self, values: dict[str, Any]) -> asyncio.Future:
        """A future of the stored event's id (None for a duplicate), or of the error."""
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self._last_submit = now = loop.time()
        self._waiting.append(_Waiting(values, answer))
        due = now + self.deadline
        self._by_deadline.append((due, answer))
        if self._sweeper is None or self._sweeper.when() > due:  # (deadline was shortened)
            if self._sweeper is not None:
                self._sweeper.cancel()
            self._sweeper = loop.call_at(due, self._sweep)
        self.idle.clear()
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="callback-intake-writer")
        return answer

    def _sweep(self) -> None:
        """Answer StoreTooSlow to every request past its deadline (in submission order, so
        the oldest are first), then wait for the next deadline."""
        loop = asyncio.get_running_loop()
        now, pending = loop.time(), self._by_deadline
        while pending and (pending[0][1].done() or pending[0][0] <= now):
            _, answer = pending.popleft()
            _settle(answer, exc=StoreTooSlow())
        for due, answer in pending:  # behind a longer deadline than theirs (it was shortened)
            if due <= now:
                _settle(answer, exc=StoreTooSlow())
        self._sweeper = loop.call_at(pending[0][0], self._sweep) if pending else None

    def quiet_for(self) -> float:
        """Seconds since the last callback was submitted."""
        return asyncio.get_running_loop().time() - self._last_submit

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            loop = asyncio.get_running_loop()
            quiet = loop.time() - self._last_written >= self.linger_after_quiet
            if quiet and len(self._waiting) < self.max_batch and self.linger:
                await asyncio.sleep(self.linger)
            self._arrived.clear()
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            if self._waiting:
                self._arrived.set()
            if batch:
                await self._write(batch)
                self._last_written = loop.time()
            if not self._waiting:
                self.idle.set()

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            ids = await store_batch(self.database, [w.values for w in batch])
        except Exception as exc:
            log.warning("callback_batch_not_stored", size=len(batch), exc_info=True)
            for waiting in batch:
                _settle(waiting.answer, exc=exc)
            return
        except asyncio.CancelledError:
            for waiting in batch:
                _settle(waiting.answer, exc=ConnectionAbortedError("shutting down"))
            raise
        for waiting, event_id in zip(batch, ids, strict=True):
            _settle(waiting.answer, result=event_id)

    async def aclose(self) -> None:
        """At shutdown: store what is waiting (requests answered 429 after their deadline
        included: if they land, ConnectWise's retry is a harmless duplicate), then stop."""
        if self._task is None:
            return
        idle = asyncio.ensure_future(self.idle.wait())
        await asyncio.wait({idle, self._task}, return_when=asyncio.FIRST_COMPLETED)
        idle.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


def _settle(answer: asyncio.Future, *, result: Any = None, exc: Exception | None = None) -> None:
    if answer.done():
        return
    if exc is not None:
        answer.set_exception(exc)
        # A request that gave up waiting never reads it: don't log "never retrieved".
        answer.add_done_callback(lambda f: f.exception())
    else:
        answer.set_result(result)
