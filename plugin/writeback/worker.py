"""Finishes queued writebacks once the PSA is reachable again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import and_, or_, select, update

from plugin.db import utcnow
from plugin.services import Services
from plugin.writeback.models import Writeback
from plugin.writeback.service import LEASE, PSAWritebackService

log = structlog.get_logger("fixpilot.writeback.worker")
BATCH = 10


async def claim_due(services: Services, limit: int = BATCH) -> list[int]:
    """Lease due writebacks (queued and due, or abandoned mid-run by a dead process).
    SKIP LOCKED on PostgreSQL lets several replicas claim disjoint rows; SQLite's write
    transaction takes the lock up front, which serialises claimers the same way."""
    now = utcnow()
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
                .values(state="in_progress", lease_until=now + LEASE)
            )
    return list(ids)


async def run_due(services: Services) -> int:
    service = PSAWritebackService(services)
    ids = await claim_due(services)
    for writeback_id in ids:
        step = await service.run(writeback_id)
        services.metrics.background.labels("writeback", step.result.state).inc()
    return len(ids)


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
