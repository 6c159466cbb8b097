"""Finishes queued writebacks once the PSA is reachable again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import and_, case, or_, select, update

from plugin.db import utcnow
from plugin.services import Services
from plugin.writeback.models import Writeback
from plugin.writeback.service import LEASE, PSAWritebackService

log = structlog.get_logger("fixpilot.writeback.worker")
BATCH = 10


async def claim_due(services: Services, limit: int = BATCH) -> list[tuple[int, int]]:
    """Lease due writebacks (queued and due, or abandoned mid-run by a dead process).
    SKIP LOCKED on PostgreSQL lets several replicas claim disjoint rows; SQLite's write
    transaction takes the lock up front, which serialises claimers the same way."""
    now = utcnow()
    claimed: list = []  # (id, attempts): the fencing token each run writes with
    async with services.db.write() as session:
        ids = (
            (
                await session.execute(
                    select(Writeback.id)
                    .where(
                        or_(
                            and_(Writeback.state == "queued", Writeback.next_attempt_at <= now),
                            and_(Writeback.state == "in_progress", Writeback.lease_until < now),
                        )
                    )
                    .order_by(Writeback.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if ids:
            await session.execute(
                update(Writeback)
                .where(Writeback.id.in_(ids))
                .values(
                    state="in_progress",
                    lease_until=now + LEASE,
                    attempts=Writeback.attempts + 1,  # the claim fences earlier runners
                    # A runner that lost its lease may have posted the note before it
                    # stopped: look for it on the ticket before posting again.
                    note_uncertain=case(
                        (Writeback.state == "in_progress", True), else_=Writeback.note_uncertain
                    ),
                )
            )
            claimed = (
                await session.execute(
                    select(Writeback.id, Writeback.attempts).where(Writeback.id.in_(ids))
                )
            ).all()
    return [(row.id, row.attempts) for row in claimed]


async def run_due(services: Services) -> int:
    service = PSAWritebackService(services)
    claimed = await claim_due(services)
    for writeback_id, attempts in claimed:
        try:
            step = await service.run(writeback_id)
        except Exception as exc:
            log.exception("writeback_run_error", writeback_id=writeback_id)
            await service.give_back(writeback_id, attempts, f"internal error: {type(exc).__name__}")
            services.metrics.background.labels("writeback", "error").inc()
            continue
        services.metrics.background.labels("writeback", step.result.state).inc()
    return len(claimed)


def writeback_worker_ctx(services: Services):
    async def loop() -> None:
        while True:
            try:
                done = await run_due(services)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writeback_worker_error")
                done = 0
            if not done:
                await asyncio.sleep(services.settings.worker_poll_seconds)

    async def ctx(app) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name="writeback-worker")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
