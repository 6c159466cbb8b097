"""Finishes queued writebacks once the PSA is reachable again."""

from __future__ import annotations

import structlog

from plugin.features.writeback.queue import WRITEBACK_QUEUE
from plugin.features.writeback.service import PSAWritebackService
from plugin.kernel.db import Database, utcnow
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.queue import background_worker

log = structlog.get_logger("fixpilot.writeback.worker")
BATCH = 10


async def run_due(database: Database, psa: PSAConnections, metrics: Metrics) -> int:
    """Claim due writebacks (queued and due, or abandoned mid-run by a dead process) and
    run each; returns how many were claimed."""
    service = PSAWritebackService(database, psa)
    claims = await WRITEBACK_QUEUE.claim_due(database, now=utcnow(), limit=BATCH)
    for claim in claims:
        try:
            step = await service.run(claim.id)
        except Exception as exc:
            # Recorded and visible on the row, instead of it sitting in progress.
            log.exception("writeback_run_error", writeback_id=claim.id)
            await WRITEBACK_QUEUE.give_back(
                database, claim, f"internal error: {type(exc).__name__}", now=utcnow()
            )
            metrics.background.labels("writeback", "error").inc()
            continue
        metrics.background.labels("writeback", step.result.state).inc()
    return len(claims)


def writeback_worker(database: Database, psa: PSAConnections, metrics: Metrics, poll: float):
    return background_worker(
        "writeback", lambda: run_due(database, psa, metrics), poll_seconds=poll
    )
