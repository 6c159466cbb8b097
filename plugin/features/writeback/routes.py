"""Posting the resolution note and the escalation package; the board statuses for admins."""

from __future__ import annotations

from typing import Any

from plugin.accounts.models import Account
from plugin.errors import (
    ApiError,
    BadGateway,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from plugin.http import Req, RouteTable
from plugin.notes.generator import DocumentKind
from plugin.notes.service import preview
from plugin.writeback.schemas import BoardStatus, BoardStatuses, PostIn, WritebackResult
from plugin.writeback.service import PSAWritebackService, psa_connected
from providers.psa import PSAError, PSANotFound, PSAUnavailable

routes = RouteTable("writeback")
SESSION = "/api/v1/ai-sessions/{session_id}"


async def _post(req: Req[PostIn, Any], kind: str, document: DocumentKind) -> WritebackResult:
    session_id = req.path_int("session_id")
    markdown = req.body.markdown
    if markdown is None:
        markdown = (
            await preview(
                req.services, req.services.preview_cache, req.account_id, session_id, document
            )
        ).markdown
    return await PSAWritebackService(req.services).post(
        req.account_id, session_id, kind, markdown, req.principal.actor
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
    return await _post(req, "resolution", DocumentKind.RESOLUTION_NOTE)


@routes.post(
    SESSION + "/escalation-package/post",
    summary="Post the escalation package (internal note) and move the ticket to the escalated "
    "status, verified by re-reading the ticket",
    body=PostIn,
    response=WritebackResult,
    errors=(404, 409, 502),
)
async def post_escalation_package(req: Req[PostIn, Any]) -> WritebackResult:
    return await _post(req, "escalation", DocumentKind.ESCALATION_PACKAGE)


@routes.get(
    "/api/v1/psa/boards/{board_id}/statuses",
    summary="A ConnectWise board's statuses (for the admin settings screen)",
    auth="admin",
    response=BoardStatuses,
    errors=(404, 409, 502, 503),
)
async def board_statuses(req: Req) -> BoardStatuses:
    board_id = req.path_int("board_id")
    async with req.services.db.read() as session:
        account = await session.get(Account, req.account_id)
    if not psa_connected(account):
        raise Conflict(
            "This account has no ConnectWise connection; configure it first.",
            code="psa_not_connected",
        )
    psa = req.services.psa.for_account(account)
    try:
        statuses = await psa.list_board_statuses(board_id)
    except PSANotFound:
        raise NotFound(
            f"Board {board_id} does not exist in ConnectWise.", code="board_not_found"
        ) from None
    except PSAError as exc:
        raise _psa_error(exc) from None
    return BoardStatuses(
        items=[
            BoardStatus(
                id=s.id, name=s.name, closed=s.closed, inactive=s.inactive, default=s.default
            )
            for s in statuses
        ]
    )


def _psa_error(exc: PSAError) -> ApiError:
    if isinstance(exc, PSAUnavailable):
        return ServiceUnavailable("ConnectWise is unreachable right now.", code="psa_unavailable")
    return BadGateway(f"ConnectWise said: {exc.message}", code="psa_error")


async def check_statuses_exist(req: Req, preferences: dict[str, Any]) -> None:
    """Settings validation against the PSA: every configured status id exists and is active
    on its board (account-wide ids: on some board)."""
    async with req.services.db.read() as session:
        account = await session.get(Account, req.account_id)
    if not psa_connected(account):
        return
    psa = req.services.psa.for_account(account)
    wanted: dict[str, tuple[int, int | None]] = {}
    for key in ("cw_resolved_status_id", "cw_escalated_status_id"):
        if preferences.get(key):
            wanted[key] = (int(preferences[key]), None)
    for board, targets in (preferences.get("board_overrides") or {}).items():
        for which in ("resolved", "escalated"):
            if targets.get(which):
                wanted[f"board_overrides.{board}.{which}"] = (int(targets[which]), int(board))
    if not wanted:
        return
    try:
        boards = {b["id"] for b in await psa.list_boards()}
        statuses = {board: await psa.list_board_statuses(board) for board in boards}
    except PSAError as exc:
        raise _psa_error(exc) from None
    errors: dict[str, str] = {}
    for field, (status_id, board) in wanted.items():
        if board is not None and board not in statuses:
            errors[field] = f"board {board} does not exist in ConnectWise"
            continue
        pool = statuses[board] if board is not None else [s for v in statuses.values() for s in v]
        found = [s for s in pool if s.id == status_id]
        if not found:
            where = f"board {board}" if board is not None else "any board"
            errors[field] = f"status {status_id} does not exist on {where}"
        elif all(s.inactive for s in found):
            errors[field] = f"status {status_id} ({found[0].name}) is inactive"
    if errors:
        raise Unprocessable(
            "Some status ids are not valid ConnectWise statuses.", details={"fields": errors}
        )
