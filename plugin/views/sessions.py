"""The pod's view of AI sessions: each session with its ticket, active fix, banner and
latest writeback, read in a fixed number of queries whatever the page size. A read model:
it reads what several features wrote, so it sits above them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import IS_ACTIVE_FIX, SuggestedFix
from plugin.features.fixes.schemas import FixOut
from plugin.features.fixes.service import fix_out
from plugin.features.fixes.transitions import banner_mode
from plugin.features.sessions.schemas import SessionCreate, SessionQuery
from plugin.features.sessions.service import fetch_ticket_context, open_session
from plugin.features.writeback.models import Writeback
from plugin.kernel.ai_sessions import AISession, get_ai_session
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.pagination import fetch_page
from plugin.kernel.tenancy import get_account

routes = RouteTable("ai-sessions")
SESSION = "/api/v1/ai-sessions/{session_id}"


class TicketInfo(BaseModel):
    id: int
    summary: str | None = None
    board_id: int | None = None
    board_name: str | None = None
    status_id: int | None = None
    status_name: str | None = None
    company_name: str | None = None
    contact_name: str | None = None
    closed: bool = False
    merged_parent_id: int | None = None


class WritebackBrief(BaseModel):
    id: int
    kind: str
    state: str
    stage: str
    last_error: str | None = None
    attempts: int = 0
    created_by: str | None = Field(
        None, description="Who posted it: the ConnectWise member, or token:<id> for an API token"
    )
    author_member_id: str | None = Field(
        None, description="The ConnectWise member the note is attributed to on the ticket"
    )


class SessionOut(BaseModel):
    id: int
    title: str
    psa_ticket_id: int | None
    status: str
    state_version: int
    ticket_state: str | None = Field(
        None,
        description="What happened to the linked ticket outside Fixpilot: open, closed_outside, "
        "merged, moved_board or deleted",
    )
    ticket: TicketInfo | None = None
    active_fix: FixOut | None = None
    banner_mode: Literal["verifying", "nudge", "partial", "pending"] | None = None
    latest_writeback: WritebackBrief | None = None
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


@routes.post(
    "/api/v1/ai-sessions",
    summary="Open an AI session, optionally linked to a PSA ticket (the title defaults to "
    "the ticket's summary)",
    body=SessionCreate,
    response=SessionOut,
    status=201,
)
async def create_session(req: Req[SessionCreate, Any]) -> SessionOut:
    read = None
    if req.body.psa_ticket_id is not None:
        read = await fetch_ticket_context(
            req.database, req.psa, req.account_id, req.body.psa_ticket_id
        )
    context = read.context if read else None
    title = req.body.title or (context or {}).get("summary") or ""
    if not title.strip():
        reason = (
            "required: the ticket's summary could not be read"
            if req.body.psa_ticket_id is not None
            else "required without psa_ticket_id"
        )
        raise Unprocessable("The session needs a title.", details={"fields": {"title": reason}})
    async with req.database.write() as tx:
        ai_session = await open_session(
            tx,
            account_id=req.account_id,
            title=title.strip()[:500],
            psa_ticket_id=req.body.psa_ticket_id,
            context=context,
            actor=req.caller.actor,
            secrets=read.secrets if read else (),
            box=req.instance.box(),
        )
        return (await sessions_out(tx, req, [ai_session]))[0]


@routes.get(
    "/api/v1/ai-sessions",
    summary="List AI sessions, newest first (filter by psa_ticket_id)",
    query=SessionQuery,
    response=SessionPage,
)
async def list_sessions(req: Req[Any, SessionQuery]) -> SessionPage:
    q = req.query
    stmt = select(AISession).where(AISession.account_id == req.account_id)
    if q.psa_ticket_id is not None:
        stmt = stmt.where(AISession.psa_ticket_id == q.psa_ticket_id)
    if q.status is not None:
        stmt = stmt.where(AISession.status == q.status)
    async with req.database.read() as db:
        rows, cursor = await fetch_page(
            db, stmt, AISession.id, q.cursor, q.limit, newest_first=True
        )
        items = await sessions_out(db, req, rows)
    return SessionPage(items=items, next_cursor=cursor)


@routes.get(
    SESSION,
    summary="One AI session with its state_version, active fix and banner mode",
    response=SessionOut,
    errors=(404,),
)
async def get_one_session(req: Req) -> SessionOut:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        return (await sessions_out(db, req, [ai_session]))[0]


async def sessions_out(
    db: AsyncSession, req: Req, ai_sessions: list[AISession]
) -> list[SessionOut]:
    """Sessions as the pod sees them, with three queries however many sessions there are."""
    account = await get_account(db, req.account_id)
    nudge_after = account.prefs.nudge_after(req.settings.nudge_after_minutes)
    ids = [s.id for s in ai_sessions]
    fixes = {
        f.session_id: f
        for f in (
            await db.execute(
                select(SuggestedFix).where(SuggestedFix.session_id.in_(ids), IS_ACTIVE_FIX)
            )
        ).scalars()
    }
    writebacks: dict[int, Writeback] = {}
    for writeback in (
        await db.execute(
            select(Writeback).where(Writeback.session_id.in_(ids)).order_by(Writeback.id)
        )
    ).scalars():
        writebacks[writeback.session_id] = writeback  # the newest wins
    now = utcnow()
    return [
        session_out(s, fixes.get(s.id), writebacks.get(s.id), now, nudge_after) for s in ai_sessions
    ]


def session_out(
    ai_session: AISession,
    fix: SuggestedFix | None,
    writeback: Writeback | None,
    now: datetime,
    nudge_after: timedelta,
) -> SessionOut:
    mode = None
    if fix is not None:
        mode = banner_mode(
            status=fix.status,
            applied_at=fix.applied_at,
            superseded=False,
            now=now,
            nudge_after=nudge_after,
        )
    ticket = None
    if ai_session.psa_ticket_id is not None:
        ticket = TicketInfo(id=ai_session.psa_ticket_id, **(ai_session.ticket_context or {}))
    return SessionOut(
        id=ai_session.id,
        title=ai_session.title,
        psa_ticket_id=ai_session.psa_ticket_id,
        status=ai_session.status,
        state_version=ai_session.state_version,
        ticket_state=ai_session.ticket_state,
        ticket=ticket,
        active_fix=fix_out(fix) if fix else None,
        banner_mode=mode,
        latest_writeback=_writeback_brief(writeback),
        created_at=ai_session.created_at,
        updated_at=ai_session.updated_at,
    )


def _writeback_brief(writeback: Writeback | None) -> WritebackBrief | None:
    if writeback is None:
        return None
    return WritebackBrief(
        id=writeback.id,
        kind=writeback.kind,
        state=writeback.state,
        stage=writeback.stage,
        last_error=writeback.last_error,
        attempts=writeback.attempts,
        created_by=writeback.created_by,
        author_member_id=writeback.author_member_id,
    )
