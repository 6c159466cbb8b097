"""The background worker that processes stored callback events, on the leased queue of
kernel.queue: the effects of processing an event are committed only while the claim still
holds, so an event whose lease ran out and was claimed again elsewhere is applied once. A
failure is retried with exponential backoff and dead-lettered after MAX_ATTEMPTS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.callbacks import processing
from plugin.features.callbacks.intake import CallbackIntake
from plugin.features.callbacks.models import PSACallbackEvent
from plugin.kernel.db import Database, utcnow
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.queue import Claim, LeasedQueue, background_worker, exponential_backoff
from plugin.kernel.secret_memory import SecretBox
from plugin.kernel.states import CallbackEventStatus
from plugin.kernel.tenancy import Account, get_account
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
    """Claim due events and process them one by one; returns how many were claimed.
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
    loaded = await _load(database, claims) if claims else {}
    for claim in claims:
        await process_claimed(
            database, psa, metrics, claim, now=now, box=box, loaded=loaded.get(claim.id)
        )
        if intake_quiet_for is not None and intake_quiet_for() < QUIET_SECONDS:
            await _step_aside(intake_quiet_for)
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
    loaded: tuple[Any, Any] | None = None,
) -> None:
    """`loaded` is the event and its account when the batch read them already."""
    if loaded is not None:
        event, account = loaded
    else:
        async with database.read() as db:
            event = await db.get(PSACallbackEvent, claim.id)
            account = await get_account(db, event.account_id) if event else None
    if event is None or account is None:
        return
    log_ = log.bind(event_id=event.id, record_id=event.record_id, action=event.action)
    try:
        change = await processing.prepare(event, psa.for_account(account))
        async with database.write() as tx:
            if not await _still_ours(tx, claim):
                log_.warning("callback_event_lease_lost")
                await tx.rollback()
                return
            outcome = await processing.apply(tx, account, change, box)
            await tx.execute(
                update(PSACallbackEvent)
                .where(PSACallbackEvent.id == claim.id)
                .values(
                    status=outcome.status,
                    processed_at=utcnow(),
                    lease_until=None,
                    last_error=outcome.note,
                )
            )
    except asyncio.CancelledError:
        raise  # shutting down: the lease runs out and another worker takes the event
    except Exception as exc:
        await _record_failure(database, metrics, claim, exc, now=now)
        return
    metrics.background.labels(_WORKER, outcome.status).inc()
    log_.info("callback_event_processed", status=outcome.status, note=outcome.note)


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
