"""Deliver CallRecords to the service's observer without letting it break the call."""

from __future__ import annotations

import inspect

import structlog

from providers.llm.base import CallObserver, CallRecord

log = structlog.get_logger(__name__)


async def report_call(observer: CallObserver | None, record: CallRecord) -> None:
    """Hand `record` to `observer` (sync or async). Its failures are logged, never raised:
    losing a usage row must not cost the user their answer."""
    if observer is None:
        return
    try:
        outcome = observer(record)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:  # noqa: BLE001 - any observer bug is contained here
        log.warning(
            "llm_observer_failed",
            kind=record.kind,
            generator=record.generator,
            error=type(exc).__name__,
            exc_info=True,
        )
