"""The pod's view of AI sessions: each session with its ticket, active fix, banner and
latest writeback, read in one query whatever the page size (the pod polls one session: its
hottest read). A read model: it reads what several features wrote, so it sits above them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.fixes.schemas import FixOut
from plugin.features.fixes.transitions import banner_mode
from plugin.features.sessions.schemas import SessionCreate, SessionQuery
from plugin.features.sessions.service import fetch_ticket_context, open_session
from plugin.features.writeback.models import Writeback
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import utcnow
from plugin.kernel.errors import NotFound, Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.pagination import fetch_page
from plugin.kernel.preferences import AccountPreferences
from plugin.kernel.states import FixStatus
from plugin.kernel.tenancy import Account
from plugin.views.findings import script_findings

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
        return (await sessions_out(tx, req, [ai_session.id]))[0]


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
        items = await sessions_out(db, req, [row.id for row in rows])
    return SessionPage(items=items, next_cursor=cursor)


@routes.get(
    SESSION,
    summary="One AI session with its state_version, active fix and banner mode",
    response=SessionOut,
    errors=(404,),
)
async def get_one_session(req: Req) -> SessionOut:
    session_id = req.path_int("session_id")
    # One Core statement, not an ORM session: one statement is one read transaction.
    params = {"account_id": req.account_id, "sid": session_id}
    rows = await req.database.hot_reads.rows(_ONE, params)
    if not rows:
        raise NotFound(f"AI session {session_id} does not exist.", code="ai_session_not_found")
    return _session_out(rows[0], utcnow(), _Nudge(req))


async def sessions_out(db: AsyncSession, req: Req, ai_session_ids: list[int]) -> list[SessionOut]:
    """Sessions as the pod sees them, in the order given, with one query however many."""
    if not ai_session_ids:
        return []
    conn = await db.connection()
    result = await conn.execute(_MANY, {"account_id": req.account_id, "ids": ai_session_ids})
    by_id = {row.id: row._mapping for row in result}
    now, nudge = utcnow(), _Nudge(req)
    return [_session_out(by_id[i], now, nudge) for i in ai_session_ids if i in by_id]


# --- The one query: the session, its account's preferences, its active fix (at most one, a
# unique index says so) and its newest writeback, as one row per session. Core, not ORM:
# the ORM's identity map and instrumentation cost more than the query on this path.
_S, _A = AISession.__table__, Account.__table__
_F, _W = SuggestedFix.__table__, Writeback.__table__
_SESSION_FIELDS = (
    "id",
    "title",
    "psa_ticket_id",
    "status",
    "state_version",
    "ticket_state",
    "ticket_context",
    "created_at",
    "updated_at",
)
# FixOut's fields that are columns of the fix (state_version is a write's; findings, the lint's).
_FIX_FIELDS = tuple(n for n in FixOut.model_fields if n not in ("state_version", "findings"))

# --- Writeback columns: the only place this view reads a writeback. WritebackBrief's fields
# are read from the columns of the same names. ---
_WRITEBACK_FIELDS = tuple(WritebackBrief.model_fields)


def _writeback_brief(m) -> WritebackBrief | None:
    if m["wb_id"] is None:
        return None
    return WritebackBrief(**{n: m["wb_" + n] for n in _WRITEBACK_FIELDS})


# --- end of the writeback columns ---

_NEWER = _W.alias("newer")
_NEWEST_WRITEBACK = (
    select(func.max(_NEWER.c.id))
    .where(_NEWER.c.session_id == _S.c.id)
    .correlate(_S)
    .scalar_subquery()
)
_COLUMNS = (
    *(_S.c[n] for n in _SESSION_FIELDS),
    _A.c.preferences.label("account_preferences"),
    *(_F.c[n].label("fix_" + n) for n in _FIX_FIELDS),
    *(_W.c[n].label("wb_" + n) for n in _WRITEBACK_FIELDS),
)
_FROM = (
    _S.join(_A, _A.c.id == _S.c.account_id)
    .outerjoin(
        _F,
        and_(
            _F.c.session_id == _S.c.id,
            _F.c.superseded_at.is_(None),
            # A literal, not a parameter: SQLite re-plans a statement on every execution when
            # a parameter decides whether a partial index (the one-active-fix index) applies.
            _F.c.status != literal_column(f"'{FixStatus.DISMISSED.value}'"),
        ),
    )
    .outerjoin(_W, _W.c.id == _NEWEST_WRITEBACK)
)
_ONE = (
    select(*_COLUMNS)
    .select_from(_FROM)
    .where(_S.c.id == bindparam("sid"), _S.c.account_id == bindparam("account_id"))
)
_MANY = (
    select(*_COLUMNS)
    .select_from(_FROM)
    .where(
        _S.c.id.in_(bindparam("ids", expanding=True)),
        _S.c.account_id == bindparam("account_id"),
    )
)


class _Nudge:
    """The account's nudge delay, parsed from its preferences only if a banner needs it."""

    def __init__(self, req: Req) -> None:
        self.default_minutes = req.settings.nudge_after_minutes
        self.value: timedelta | None = None

    def of(self, preferences: dict[str, Any] | None) -> timedelta:
        if self.value is None:
            prefs = AccountPreferences.from_stored(preferences)
            self.value = prefs.nudge_after(self.default_minutes)
        return self.value


def _session_out(m: Mapping[str, Any], now: datetime, nudge: _Nudge) -> SessionOut:
    fix = mode = None
    if m["fix_id"] is not None:
        fix = FixOut(
            **{n: m["fix_" + n] for n in _FIX_FIELDS},
            state_version=None,
            findings=script_findings(m["fix_edited_script"] or m["fix_ai_drafted_script"]),
        )
        applied_at = m["fix_applied_at"]
        # Only a suggested fix that was applied has a time-dependent banner.
        needs_delay = applied_at is not None and m["fix_status"] == FixStatus.SUGGESTED
        mode = banner_mode(
            status=m["fix_status"],
            applied_at=applied_at,
            superseded=False,
            now=now,
            nudge_after=nudge.of(m["account_preferences"]) if needs_delay else _NO_DELAY,
        )
    ticket = None
    if m["psa_ticket_id"] is not None:
        ticket = TicketInfo(id=m["psa_ticket_id"], **(m["ticket_context"] or {}))
    return SessionOut(
        id=m["id"],
        title=m["title"],
        psa_ticket_id=m["psa_ticket_id"],
        status=m["status"],
        state_version=m["state_version"],
        ticket_state=m["ticket_state"],
        ticket=ticket,
        active_fix=fix,
        banner_mode=mode,
        latest_writeback=_writeback_brief(m),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


_NO_DELAY = timedelta(0)
