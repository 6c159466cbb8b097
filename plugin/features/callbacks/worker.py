"""The background worker that processes stored callback events, on the leased queue of
kernel.queue: the effects of processing an event are committed only while the claim still
holds, so an event whose lease ran out and was claimed again elsewhere is applied once. A
failure is retried with exponential backoff and dead-lettered after MAX_ATTEMPTS. A batch
is applied event by event in savepoints (in one transaction on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.callbacks import processing
from plugin.features.callbacks.intake import CallbackIntake
from plugin.features.callbacks.models import PSACallbackEvent
from plugin.kernel.db import Database, is_retryable, utcnow
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.queue import Claim, LeasedQueue, background_worker, exponential_backoff
from plugin.kernel.secret_memory import SecretBox
from plugin.kernel.states import CallbackEventStatus
from plugin.kernel.tenancy import Account
from providers.psa import PSAError

log = structlog.get_logger("fixpilot.callbacks.worker")

BATCH = 20
BUSY_BATCH = 1  # while intake is busy in the same process
QUIET_SECONDS = 0.05
YIELD_SECONDS = 1.0
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
_WORKER = "callbacks"
CALLBACK_QUEUE = LeasedQueue(
    table=PSACallbackEvent,
    state=PSACallbackEvent.status,
    ready=CallbackEventStatus.PENDING,
    running=CallbackEventStatus.PROCESSING,
    dead=CallbackEventStatus.DEAD,
    lease=LEASE,
    backoff=exponential_backoff(timedelta(seconds=5), timedelta(minutes=10)),
    max_attempts=MAX_ATTEMPTS,
)


async def claim_due(database: Database, *, now: datetime, limit: int = BATCH) -> list[Claim]:
    return await CALLBACK_QUEUE.claim_due(database, now=now, limit=limit)


async def run_batch(
    database: Database,
    psa: PSAConnections,
    metrics: Metrics,
    *,
    now: datetime | None = None,
    box: SecretBox | None = None,
    intake_quiet_for: Callable[[], float] | None = None,
) -> int:
    """Claim due events and process them; returns how many were claimed.
    `now` is the clock for claiming and backoff (tests move it forward); `box` is the
    session secret memory's. `intake_quiet_for` says how long ago a callback last came in
    to this process: while that is recent the worker steps aside, since it shares the core
    and, on SQLite, the write lock with intake, and a callback not answered within 5 s is
    lost to ConnectWise."""
    limit = BATCH
    if intake_quiet_for is not None and intake_quiet_for() < QUIET_SECONDS:
        await _step_aside(intake_quiet_for)
        limit = BUSY_BATCH
    now = now or utcnow()
    claims = await claim_due(database, now=now, limit=limit)
    if claims:
        loaded = await _load(database, claims)
        await process_claims(
            database,
            psa,
            metrics,
            claims,
            now=now,
            box=box,
            loaded=loaded,
            quiet_for=intake_quiet_for,
        )
    return len(claims)


async def _step_aside(quiet_for: Callable[[], float]) -> None:
    """Wait until intake has been quiet for QUIET_SECONDS, at most YIELD_SECONDS so events
    still move under a steady load (the backlog is worked off when it eases)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + YIELD_SECONDS
    while (quiet := quiet_for()) < QUIET_SECONDS and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(QUIET_SECONDS - quiet)


async def _load(database: Database, claims: list[Claim]) -> dict[int, tuple[Any, Any]]:
    """The claimed events and their accounts in two queries, not two per event."""
    async with database.read() as db:
        ids = [claim.id for claim in claims]
        events = (
            (await db.execute(select(PSACallbackEvent).where(PSACallbackEvent.id.in_(ids))))
            .scalars()
            .all()
        )
        wanted = {event.account_id for event in events}
        accounts = {
            account.id: account
            for account in (await db.execute(select(Account).where(Account.id.in_(wanted))))
            .scalars()
            .all()
        }
    return {event.id: (event, accounts.get(event.account_id)) for event in events}


async def process_claimed(
    database: Database,
    psa: PSAConnections,
    metrics: Metrics,
    claim: Claim,
    *,
    now: datetime,
    box: SecretBox | None = None,
) -> None:
    """One claimed event on its own."""
    await process_claims(
        database, psa, metrics, [claim], now=now, box=box, loaded=await _load(database, [claim])
    )


@dataclass
class _Ready:
    claim: Claim
    event: PSACallbackEvent
    account: Account
    change: processing.TicketChange
    outcome: processing.Outcome | None = None
    failure: Exception | None = None


async def process_claims(
    database: Database,
    psa: PSAConnections,
    metrics: Metrics,
    claims: list[Claim],
    *,
    now: datetime,
    box: SecretBox | None,
    loaded: dict[int, tuple[Any, Any]],
    quiet_for: Callable[[], float] | None = None,
) -> None:
    """Read what each event needs from the PSA, then apply them, each in a savepoint of its
    own, so an event that fails is rolled back alone and retried later on its own backoff.

    On PostgreSQL the batch is one transaction: one commit (one WAL flush) per batch, not per
    event (54 -> 93 events/s, bench/worker_throughput.py). On SQLite each event is a
    transaction of its own, and the worker steps aside between them while intake is busy:
    there a transaction holds the one write lock intake's group commits need, and batching
    gains nothing (the time goes to aiosqlite's thread hops, not to the flush)."""
    ready = await _prepare_all(database, psa, metrics, claims, now=now, loaded=loaded)
    # Ticket by ticket, each ticket's events in the order they came: two workers applying
    # batches that share tickets lock their snapshots in the same order (no deadlock).
    ready.sort(key=lambda r: (r.event.record_id or 0, r.claim.id))
    per_transaction = 1 if database.is_sqlite else max(len(ready), 1)
    for start in range(0, len(ready), per_transaction):
        chunk = ready[start : start + per_transaction]
        try:
            await database.write_retrying(partial(_apply_all, ready=chunk, box=box))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the transaction itself failed: nothing of it was stored
            for item in chunk:
                item.outcome, item.failure = None, exc
        if quiet_for is not None and quiet_for() < QUIET_SECONDS:
            await _step_aside(quiet_for)
    for item in ready:
        log_ = log.bind(event_id=item.event.id, record_id=item.event.record_id)
        if item.failure is not None:
            await _record_failure(database, metrics, item.claim, item.failure, now=now)
        elif item.outcome is None:
            log_.warning("callback_event_lease_lost")
        else:
            metrics.background.labels(_WORKER, item.outcome.status).inc()
            log_.info(
                "callback_event_processed",
                action=item.event.action,
                status=item.outcome.status,
                note=item.outcome.note,
            )


async def _prepare_all(
    database: Database,
    psa: PSAConnections,
    metrics: Metrics,
    claims: list[Claim],
    *,
    now: datetime,
    loaded: dict[int, tuple[Any, Any]],
) -> list[_Ready]:
    """What each claimed event needs from the PSA, read before any write transaction."""
    ready: list[_Ready] = []
    for claim in claims:
        event, account = loaded.get(claim.id, (None, None))
        if event is None or account is None:
            continue
        try:
            change = await processing.prepare(event, psa.for_account(account))
        except asyncio.CancelledError:
            raise  # shutting down: the lease runs out and another worker takes the event
        except Exception as exc:
            await _record_failure(database, metrics, claim, exc, now=now)
            continue
        ready.append(_Ready(claim, event, account, change))
    return ready


async def _apply_all(tx: AsyncSession, ready: list[_Ready], box: SecretBox | None) -> None:
    """Each event in a savepoint of its own; one event alone needs none: if it fails, the
    exception rolls its whole transaction back (two statements fewer per event on SQLite)."""
    if len(ready) == 1:
        ready[0].outcome = await _apply_one(tx, ready[0], box)
        return
    for item in ready:  # run again whole if the transaction is retried (a deadlock victim)
        item.outcome = item.failure = None
        try:
            async with tx.begin_nested():
                item.outcome = await _apply_one(tx, item, box)
        except DBAPIError as exc:
            if is_retryable(exc):
                raise  # the whole transaction is lost: write_retrying runs it again
            item.failure = exc
        except Exception as exc:
            item.failure = exc


async def _apply_one(
    tx: AsyncSession, item: _Ready, box: SecretBox | None
) -> processing.Outcome | None:
    """The event's effects and its new status, or None when its lease was lost."""
    if not await _still_ours(tx, item.claim):
        return None
    outcome = await processing.apply(tx, item.account, item.change, box)
    await tx.execute(
        update(PSACallbackEvent)
        .where(PSACallbackEvent.id == item.claim.id)
        .values(
            status=outcome.status,
            processed_at=utcnow(),
            lease_until=None,
            last_error=outcome.note,
        )
    )
    return outcome


async def _still_ours(tx: AsyncSession, claim: Claim) -> bool:
    """Row-locked on PostgreSQL until commit, so a reclaim can't slip in before it."""
    row = (
        await tx.execute(
            select(PSACallbackEvent.id).where(CALLBACK_QUEUE.fence(claim)).with_for_update()
        )
    ).scalar_one_or_none()
    return row is not None


async def _record_failure(
    database: Database, metrics: Metrics, claim: Claim, exc: Exception, *, now: datetime
) -> None:
    error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    log.warning(
        "callback_event_failed",
        event_id=claim.id,
        attempt=claim.attempts,
        dead=claim.attempts >= MAX_ATTEMPTS,
        error=type(exc).__name__,
        exc_info=not isinstance(exc, PSAError),  # a PSA outage needs no traceback
    )
    try:
        state = await CALLBACK_QUEUE.give_back(database, claim, error, now=now)
    except Exception:
        # The lease will run out and the event be claimed again.
        log.warning("callback_event_failure_not_recorded", event_id=claim.id, exc_info=True)
        state = CallbackEventStatus.PENDING
    dead = state == CallbackEventStatus.DEAD
    metrics.background.labels(_WORKER, "dead" if dead else "retry").inc()


def callback_worker(
    database: Database,
    psa: PSAConnections,
    metrics: Metrics,
    poll: float,
    box: Callable[[], SecretBox],
    intake: CallbackIntake | None = None,
):
    """`box` gives the secret memory's box once the instance secret is loaded. `intake` is
    the intake of the same process, when there is one (`serve`): its stores wake the worker
    and its busy spells make the worker step aside. Alone (`fixpilot worker`) it polls."""
    quiet_for = intake.quiet_for if intake is not None else None
    return background_worker(
        "callbacks",
        lambda: run_batch(database, psa, metrics, box=box(), intake_quiet_for=quiet_for),
        poll_seconds=poll,
        wake=intake.wake if intake is not None else None,
    )
