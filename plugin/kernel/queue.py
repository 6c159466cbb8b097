"""The one leased work queue behind every background worker (callback events, writebacks).

A row is claimed in one write transaction: due rows (waiting and due, or running with a
lease that ran out because its runner died) are picked `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several processes claim disjoint rows; on SQLite the write transaction takes
the lock up front, which serialises claimers the same way. A claim moves the row to its
running state, stamps `lease_until` and raises `attempts`: the new `attempts` is the claim's
fencing token. Whatever the runner writes afterwards is fenced by that token, so a runner
whose lease ran out and was taken over can change nothing more. A failure goes back to the
waiting state with exponential backoff, or to the dead state after `max_attempts`.

A runner may move its row through several running states while it holds it (a writeback
records each PSA step in its state): `also_running` names them, and `resume` says which
running state a claim of a waiting row starts in.

The table needs the columns `id`, `attempts`, `next_attempt_at`, `lease_until` and
`last_error`, plus a state column whose values the queue is told.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, case, or_, select, update

from plugin.kernel.db import Database

log = structlog.get_logger("fixpilot.queue")


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int  # the fencing token of this claim


def exponential_backoff(first: timedelta, cap: timedelta) -> Callable[[int], timedelta]:
    """Wait before the next attempt after `attempts` failed ones: first, 2×first, … ≤ cap."""

    def backoff(attempts: int) -> timedelta:
        return min(first * 2 ** max(attempts - 1, 0), cap)

    return backoff


@dataclass(frozen=True)
class LeasedQueue:
    table: Any  # the ORM class
    state: Any  # its state column
    ready: str  # waiting to run (when next_attempt_at has come)
    running: str  # claimed, under lease
    dead: str  # given up on, until an admin acts
    lease: timedelta
    backoff: Callable[[int], timedelta]
    max_attempts: int | None = None  # None: retried for ever
    # Extra values written when a claim takes over a row whose runner's lease ran out.
    takeover_values: Mapping[str, Any] = field(default_factory=dict)
    # Further states a runner holds its row in (under lease), besides `running`.
    also_running: tuple[str, ...] = ()
    # The running state a claim moves a waiting row to (a SQL expression); None: `running`.
    resume: Callable[[], Any] | None = None
    # Which due rows go first: by id (arrival) unless told; a queue whose rows come back
    # often orders by next_attempt_at, or the lowest ids would take every turn.
    order_by: Callable[[], tuple[Any, ...]] | None = None

    @property
    def running_states(self) -> tuple[str, ...]:
        return (self.running, *self.also_running)

    def held(self) -> ColumnElement[bool]:
        return self.state.in_(self.running_states)

    def fence(self, claim: Claim) -> ColumnElement[bool]:
        """WHERE clause for any write of the claim's runner: nothing if it lost the row."""
        return and_(self.table.id == claim.id, self.table.attempts == claim.attempts, self.held())

    async def claim_due(self, database: Database, *, now: datetime, limit: int) -> list[Claim]:
        table = self.table
        expired = and_(self.held(), table.lease_until < now)
        due = or_(and_(self.state == self.ready, table.next_attempt_at <= now), expired)
        candidates = select(table.id).where(due)
        order = (table.id,) if self.order_by is None else self.order_by()
        if self.max_attempts is not None:
            candidates = candidates.where(table.attempts < self.max_attempts)
        async with database.write() as tx:
            if self.max_attempts is not None:
                # A runner that died on the last attempt leaves its row to be buried here.
                await tx.execute(
                    update(table)
                    .where(expired, table.attempts >= self.max_attempts)
                    .values(
                        {
                            self.state: self.dead,
                            table.lease_until: None,
                            table.last_error: "lease expired on the last attempt",
                        }
                    )
                )
            ids = (
                (
                    await tx.execute(
                        candidates.order_by(*order).limit(limit).with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            values: dict[Any, Any] = {
                getattr(table, name): case((self.held(), value), else_=getattr(table, name))
                for name, value in self.takeover_values.items()
            }
            started = self.running if self.resume is None else self.resume()
            values.update(
                {
                    # A taken-over row stays in the running state its runner had reached.
                    self.state: case((self.state == self.ready, started), else_=self.state),
                    table.lease_until: now + self.lease,
                    table.attempts: table.attempts + 1,
                }
            )
            rows = await tx.execute(
                update(table)
                .where(table.id.in_(ids))
                .values(values)
                .returning(table.id, table.attempts)
            )
            claims = [Claim(row_id, attempts) for row_id, attempts in rows.all()]
        return sorted(claims, key=lambda c: c.id)

    async def give_back(
        self, database: Database, claim: Claim, error: str, *, now: datetime, **values: Any
    ) -> str:
        """Record a failed attempt: back to waiting with backoff, or dead after the last
        attempt. Returns the state written (nothing is written if the claim was lost)."""
        dead = self.max_attempts is not None and claim.attempts >= self.max_attempts
        state = self.dead if dead else self.ready
        async with database.write() as tx:
            await tx.execute(
                update(self.table)
                .where(self.fence(claim))
                .values(
                    {
                        self.state: state,
                        self.table.next_attempt_at: now + self.backoff(claim.attempts),
                        self.table.lease_until: None,
                        self.table.last_error: error[:1000],
                        **{getattr(self.table, k): v for k, v in values.items()},
                    }
                )
            )
        return state


def background_worker(
    name: str,
    run_once: Callable[[], Awaitable[int]],
    *,
    poll_seconds: float,
    wake: asyncio.Event | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
):
    """A `cleanup_ctx` that runs `run_once` in a loop while the application runs.

    `run_once` returns how much it did; when it did nothing the loop waits `poll_seconds`,
    or less when `wake` is set (new work arrived in this process)."""

    async def loop() -> None:
        while True:
            if wake is not None:
                wake.clear()  # before looking, so work that arrives meanwhile is not missed
            try:
                done = await run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker_error", worker=name)
                done = 0
            if done:
                continue
            if wake is None:
                await asyncio.sleep(poll_seconds)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll_seconds)

    async def ctx(app) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name=f"{name}-worker")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if on_stop is not None:
            await on_stop()

    return ctx
