"""The backlog gauges, read from the database when Prometheus scrapes: one aggregate query
per gauge pair (a count and the oldest timestamp), across accounts, on indexed columns."""

from __future__ import annotations

import time
from datetime import datetime

import structlog
from sqlalchemy import and_, func, or_, select

from plugin.features.callbacks.models import PSACallbackEvent
from plugin.features.writeback.models import Writeback
from plugin.kernel.db import Database, utcnow
from plugin.kernel.metrics import Metrics
from plugin.kernel.states import (
    WRITEBACK_CLOSED,
    WRITEBACK_RUNNING,
    CallbackEventStatus,
    WritebackState,
)

log = structlog.get_logger("fixpilot.metrics")

PENDING_EVENTS = (CallbackEventStatus.PENDING, CallbackEventStatus.PROCESSING)


def _queries(now: datetime) -> dict:
    events, writebacks = PSACallbackEvent, Writeback
    stuck = or_(
        writebacks.state.in_((WritebackState.WAITING_RETRY, WritebackState.FAILED)),
        and_(writebacks.state.in_(WRITEBACK_RUNNING), writebacks.lease_until < now),
    )
    return {
        "callback_events_pending": select(func.count(), func.min(events.received_at)).where(
            events.status.in_(PENDING_EVENTS)
        ),
        "callback_events_dead": select(func.count(), func.min(events.received_at)).where(
            events.status == CallbackEventStatus.DEAD
        ),
        "writebacks_open": select(func.count(), func.min(writebacks.created_at)).where(
            writebacks.state.not_in(WRITEBACK_CLOSED)
        ),
        "writebacks_stuck": select(func.count(), func.min(writebacks.created_at)).where(stuck),
    }


async def refresh_backlog(database: Database, metrics: Metrics, *, max_age: float = 5.0) -> None:
    """Set the backlog gauges; if the database cannot answer, say so in
    fixpilot_backlog_scrape_ok rather than fail the whole scrape. /metrics is public: the
    queries run at most once per `max_age` seconds per process, whoever asks."""
    if time.monotonic() - metrics.backlog_read_at < max_age:
        return
    metrics.backlog_read_at = time.monotonic()
    now = utcnow()
    try:
        async with database.read() as db:
            results = {
                name: (await db.execute(query)).one() for name, query in _queries(now).items()
            }
    except Exception as exc:
        log.warning("backlog_metrics_unavailable", error=type(exc).__name__)
        metrics.backlog_up.set(0)
        return
    for name, (count, oldest) in results.items():
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        metrics.set_backlog(name, count, age)
    metrics.backlog_up.set(1)
