"""Posting the resolution note and the escalation package."""

from __future__ import annotations

from typing import Any

from plugin.features.notes.cache import PREVIEW_CACHE
from plugin.features.notes.service import preview
from plugin.features.writeback.gate import check_customer_note, scrub_internal_note
from plugin.features.writeback.schemas import PostIn, WritebackResult
from plugin.features.writeback.service import PSAWritebackService
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.secret_memory import recall
from plugin.kernel.states import DocumentKind, WritebackKind

routes = RouteTable("writeback")
SESSION = "/api/v1/ai-sessions/{session_id}"


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
