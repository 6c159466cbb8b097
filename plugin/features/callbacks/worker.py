"""The background worker that processes stored callback events.

Claiming is a lease: in one write transaction the due events are picked and moved to
`processing`, with `lease_until` stamped and `attempts` incremented. On PostgreSQL they are
picked `FOR UPDATE SKIP LOCKED`, so several `fixpilot serve` processes claim disjoint events;
on SQLite the write transaction takes the database lock up front, which serialises claimers.
The `attempts` value a claim returns is its token: the effects of processing are committed
only if the event is still `processing` with that value, so an event whose lease ran out and
was claimed again by another worker is applied once. A failure is retried with exponential
backoff and dead-lettered after MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update

from plugin.accounts.models import Account
from plugin.callbacks import processing
from plugin.callbacks.intake import WAKE_WORKER, finish_late_stores
from plugin.callbacks.models import PSACallbackEvent
from plugin.db import utcnow
from plugin.services import Services
from providers.psa.base import PSAError

log = structlog.get_logger("fixpilot.callbacks.worker")

BATCH = 20
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
BACKOFF_FIRST = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=10)
_WORKER = "callbacks"


@dataclass(frozen=True)
class Claim:
    event_id: int
    attempts: int  # the lease token


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: 5 s, 10 s, 20 s, ..."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


async def claim_due(services: Services, *, now: datetime, limit: int = BATCH) -> list[Claim]:
    due = or_(
        and_(PSACallbackEvent.status == "pending", PSACallbackEvent.next_attempt_at <= now),
        and_(PSACallbackEvent.status == "processing", PSACallbackEvent.lease_until < now),
    )
    candidates = (
        select(PSACallbackEvent.id)
        .where(due, PSACallbackEvent.attempts < MAX_ATTEMPTS)
        .order_by(PSACallbackEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with services.db.write() as session:
        # A worker that died mid-event on its last attempt leaves it to be dead-lettered here.
        await session.execute(
            update(PSACallbackEvent)
            .where(
                PSACallbackEvent.status == "processing",
                PSACallbackEvent.lease_until < now,
                PSACallbackEvent.attempts >= MAX_ATTEMPTS,
            )
            .values(status="dead", lease_until=None, last_error="lease expired on the last attempt")
        )
        ids = (await session.execute(candidates)).scalars().all()
        if not ids:
            return []
        rows = await session.execute(
            update(PSACallbackEvent)
            .where(PSACallbackEvent.id.in_(ids))
            .values(
                status="processing",
                lease_until=now + LEASE,
                attempts=PSACallbackEvent.attempts + 1,
            )
            .returning(PSACallbackEvent.id, PSACallbackEvent.attempts)
        )
        claims = [Claim(event_id, attempts) for event_id, attempts in rows.all()]
    return sorted(claims, key=lambda c: c.event_id)


async def run_batch(services: Services, *, now: datetime | None = None) -> int:
    """Claim due events and process them one by one; returns how many were claimed.
    `now` is the clock for claiming and backoff (tests move it forward)."""
    now = now or utcnow()
    claims = await claim_due(services, now=now)
    for claim in claims:
        await process_claimed(services, claim, now=now)
    return len(claims)


async def process_claimed(services: Services, claim: Claim, *, now: datetime) -> None:
    db = services.db
    async with db.read() as session:
        event = await session.get(PSACallbackEvent, claim.event_id)
        account = await session.get(Account, event.account_id) if event else None
    if event is None or account is None:
        return
    log_ = log.bind(event_id=event.id, record_id=event.record_id, action=event.action)
    try:
        change = await processing.prepare(event, services.psa.for_account(account))
        async with db.write() as session:
            if not await _still_ours(session, claim):
                log_.warning("callback_event_lease_lost")
                await session.rollback()
                return
            outcome = await processing.apply(session, account, change)
            await session.execute(
                update(PSACallbackEvent)
                .where(PSACallbackEvent.id == claim.event_id)
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
        await _record_failure(services, claim, exc, now=now)
        return
    services.metrics.background.labels(_WORKER, outcome.status).inc()
    log_.info("callback_event_processed", status=outcome.status, note=outcome.note)


async def _still_ours(session, claim: Claim) -> bool:
    """Row-locked on PostgreSQL until commit, so a reclaim can't slip in before it."""
    row = (
        await session.execute(
            select(PSACallbackEvent.id)
            .where(
                PSACallbackEvent.id == claim.event_id,
                PSACallbackEvent.status == "processing",
                PSACallbackEvent.attempts == claim.attempts,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    return row is not None


async def _record_failure(
    services: Services, claim: Claim, exc: Exception, *, now: datetime
) -> None:
    dead = claim.attempts >= MAX_ATTEMPTS
    error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:1000]
    log.warning(
        "callback_event_failed",
        event_id=claim.event_id,
        attempt=claim.attempts,
        dead=dead,
        error=type(exc).__name__,
        exc_info=not isinstance(exc, PSAError),  # a PSA outage needs no traceback
    )
    try:
        async with services.db.write() as session:
            await session.execute(
                update(PSACallbackEvent)
                .where(
                    PSACallbackEvent.id == claim.event_id,
                    PSACallbackEvent.status == "processing",
                    PSACallbackEvent.attempts == claim.attempts,
                )
                .values(
                    status="dead" if dead else "pending",
                    next_attempt_at=now + backoff(claim.attempts),
                    lease_until=None,
                    last_error=error,
                )
            )
    except Exception:
        # The lease will run out and the event be claimed again.
        log.warning("callback_event_failure_not_recorded", event_id=claim.event_id, exc_info=True)
    services.metrics.background.labels(_WORKER, "dead" if dead else "retry").inc()


def callback_worker_ctx(services: Services):
    async def loop() -> None:
        wake: asyncio.Event = services.extras.setdefault(WAKE_WORKER, asyncio.Event())
        while True:
            wake.clear()  # before claiming, so an event stored meanwhile is not missed
            try:
                claimed = await run_batch(services)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("callback_worker_error")
                claimed = 0
            if claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), services.settings.worker_poll_seconds)

    async def ctx(app) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name="callback-worker")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await finish_late_stores(services)

    return ctx
