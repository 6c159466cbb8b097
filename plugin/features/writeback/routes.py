"""Posting the resolution note and the escalation package; the admin view of writebacks."""

from __future__ import annotations

from typing import Any

from plugin.features.notes.cache import PREVIEW_CACHE
from plugin.features.notes.service import preview
from plugin.features.writeback import admin
from plugin.features.writeback.gate import check_customer_note, scrub_internal_note
from plugin.features.writeback.models import Writeback
from plugin.features.writeback.schemas import (
    PostIn,
    WritebackOut,
    WritebackPage,
    WritebackQuery,
    WritebackResult,
)
from plugin.features.writeback.service import PSAWritebackService
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.pagination import fetch_page
from plugin.kernel.secret_memory import recall
from plugin.kernel.states import DocumentKind, WritebackKind
from plugin.kernel.tenancy import scoped

routes = RouteTable("writeback")
SESSION = "/api/v1/ai-sessions/{session_id}"
ADMIN = "/api/v1/admin/writebacks"


async def _post(
    req: Req[PostIn, Any], kind: WritebackKind, document: DocumentKind
) -> WritebackResult:
    ai_session_id = req.path_int("session_id")
    markdown = req.body.markdown
    if markdown is None:
        draft = await preview(
            req.database, req.llm, req.app[PREVIEW_CACHE], req.account_id, ai_session_id, document
        )
        markdown = draft.markdown
    text = markdown.strip()
    if not text:
        raise Unprocessable(
            "The document is empty.", details={"fields": {"markdown": "must not be blank"}}
        )
    async with req.database.read() as db:
        await get_ai_session(db, req.account_id, ai_session_id)
        remembered = await recall(db, req.instance.box(), ai_session_id)
    if kind == WritebackKind.RESOLUTION:
        checked = check_customer_note(
            text, remembered, req.body.allow_spans, ai_session_id=ai_session_id
        )
    else:
        checked = scrub_internal_note(text, remembered)
    return await PSAWritebackService(req.database, req.psa).post(
        req.account_id, ai_session_id, kind, checked, req.caller.actor, req.caller.member_id
    )


@routes.post(
    SESSION + "/resolution-note/post",
    summary="Post the resolution note (customer-visible) and move the ticket to the resolved "
    "status, verified by re-reading the ticket",
    body=PostIn,
    response=WritebackResult,
    errors=(404, 409, 502),
)
async def post_resolution_note(req: Req[PostIn, Any]) -> WritebackResult:
    return await _post(req, WritebackKind.RESOLUTION, DocumentKind.RESOLUTION_NOTE)


@routes.post(
    SESSION + "/escalation-package/post",
    summary="Post the escalation package (internal note) and move the ticket to the escalated "
    "status, verified by re-reading the ticket",
    body=PostIn,
    response=WritebackResult,
    errors=(404, 409, 502),
)
async def post_escalation_package(req: Req[PostIn, Any]) -> WritebackResult:
    return await _post(req, WritebackKind.ESCALATION, DocumentKind.ESCALATION_PACKAGE)


@routes.get(
    ADMIN,
    summary="Writebacks of this account, newest first (e.g. ?state=waiting_retry or failed)",
    auth="admin",
    query=WritebackQuery,
    response=WritebackPage,
)
async def list_writebacks(req: Req[Any, WritebackQuery]) -> WritebackPage:
    q = req.query
    stmt = scoped(Writeback, req.account_id)
    if q.state is not None:
        stmt = stmt.where(Writeback.state == q.state)
    async with req.database.read() as db:
        rows, cursor = await fetch_page(
            db, stmt, Writeback.id, q.cursor, q.limit, newest_first=True
        )
    return WritebackPage(items=[admin.writeback_out(w) for w in rows], next_cursor=cursor)


@routes.post(
    ADMIN + "/{writeback_id}/retry",
    summary="Make a waiting or failed writeback due now (409 for any other state)",
    auth="admin",
    response=WritebackOut,
    errors=(404, 409),
)
async def retry_writeback(req: Req) -> WritebackOut:
    return await admin.retry_now(req.database, req.account_id, req.path_int("writeback_id"))


@routes.post(
    ADMIN + "/{writeback_id}/cancel",
    summary="Stop a writeback that is not done (409 when it is done)",
    auth="admin",
    response=WritebackOut,
    errors=(404, 409),
)
async def cancel_writeback(req: Req) -> WritebackOut:
    return await admin.cancel(req.database, req.account_id, req.path_int("writeback_id"))
