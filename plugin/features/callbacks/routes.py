"""ConnectWise callback intake and the admin view of stored events."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import update

from plugin.features.callbacks.intake import CALLBACK_INTAKE
from plugin.features.callbacks.models import PSACallbackEvent
from plugin.features.callbacks.schemas import (
    CallbackAccepted,
    CallbackEventOut,
    CallbackEventPage,
    CallbackEventQuery,
)
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Conflict, error_response
from plugin.kernel.http import MAX_BODY_BYTES, ApiTooLarge, Req, RouteTable, json_response
from plugin.kernel.pagination import fetch_page
from plugin.kernel.states import CallbackEventStatus
from plugin.kernel.tenancy import get_scoped, scoped

routes = RouteTable("callbacks")
EVENTS = "/api/v1/admin/callback-events"
_GENERIC = {
    401: ("unauthorized", "Unauthorized."),
    429: ("too_many_requests", "Try again shortly."),
}


@routes.post(
    "/webhooks/connectwise/{account}",
    summary="ConnectWise callback (signed with x-content-signature); stored, processed later",
    auth="public",
    response=CallbackAccepted,
    status=202,
    errors=(400, 401, 404, 429),
)
async def connectwise_callback(req: Req) -> web.Response:
    request = req.request
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiTooLarge()
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiTooLarge()
    result = await req.app[CALLBACK_INTAKE].receive(
        request.match_info["account"], raw, request.headers
    )
    if result.status < 300:
        return json_response(
            CallbackAccepted(status=result.outcome, event_id=result.event_id), result.status
        )
    if result.status in _GENERIC:
        code, message = _GENERIC[result.status]
        headers = {"Retry-After": "2"} if result.status == 429 else None
        return error_response(result.status, code, message, headers=headers)
    code = "not_found" if result.status == 404 else "malformed_callback"
    return error_response(result.status, code, result.message)


@routes.get(
    EVENTS,
    summary="Stored ConnectWise callback events, newest first (e.g. ?status=dead)",
    auth="admin",
    query=CallbackEventQuery,
    response=CallbackEventPage,
)
async def list_events(req: Req[Any, CallbackEventQuery]) -> CallbackEventPage:
    q = req.query
    stmt = scoped(PSACallbackEvent, req.account_id)
    if q.status is not None:
        stmt = stmt.where(PSACallbackEvent.status == q.status)
    async with req.database.read() as db:
        rows, cursor = await fetch_page(
            db, stmt, PSACallbackEvent.id, q.cursor, q.limit, newest_first=True
        )
    return CallbackEventPage(items=[event_out(e) for e in rows], next_cursor=cursor)


@routes.post(
    EVENTS + "/{event_id}/replay",
    summary="Put a dead-lettered event back in the queue with fresh attempts",
    auth="admin",
    response=CallbackEventOut,
    errors=(404, 409),
)
async def replay_event(req: Req) -> CallbackEventOut:
    event_id = req.path_int("event_id")
    async with req.database.write() as tx:
        event = await get_scoped(
            tx, PSACallbackEvent, event_id, req.account_id, what="Callback event"
        )
        result = await tx.execute(
            update(PSACallbackEvent)
            .where(
                PSACallbackEvent.id == event.id,
                PSACallbackEvent.status == CallbackEventStatus.DEAD,
            )
            .values(
                status=CallbackEventStatus.PENDING,
                attempts=0,
                next_attempt_at=utcnow(),
                lease_until=None,
            )
        )
        if result.rowcount != 1:
            raise Conflict(
                f"Only dead-lettered events can be replayed; this one is {event.status}.",
                code="event_not_dead",
                details={"status": event.status},
            )
        await tx.refresh(event)
        out = event_out(event)
    req.app[CALLBACK_INTAKE].wake.set()
    return out


def event_out(event: PSACallbackEvent) -> CallbackEventOut:
    return CallbackEventOut(
        id=event.id,
        dedupe_key=event.dedupe_key,
        record_id=event.record_id,
        event_type=event.event_type,
        action=event.action,
        status=event.status,
        attempts=event.attempts,
        next_attempt_at=event.next_attempt_at,
        last_error=event.last_error,
        received_at=event.received_at,
        processed_at=event.processed_at,
    )
