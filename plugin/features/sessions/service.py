"""AI sessions: creation, lookup, state_version, and the session as the pod sees it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.accounts.models import Account
from plugin.accounts.scope import get_scoped
from plugin.db import utcnow
from plugin.errors import Conflict, NotFound
from plugin.fixes.models import SuggestedFix
from plugin.fixes.service import fix_out
from plugin.fixes.transitions import banner_mode
from plugin.sessions.models import AISession
from plugin.sessions.schemas import SessionOut, TicketInfo, WritebackBrief
from plugin.writeback.models import Writeback

OPEN_STATUSES = ("active",)


async def bump_state_version(session: AsyncSession, ai_session_id: int) -> int:
    """Atomically raise the session's state_version; call it in the transaction of the write
    that a note could reflect."""
    result = await session.execute(
        update(AISession)
        .where(AISession.id == ai_session_id)
        .values(state_version=AISession.state_version + 1, updated_at=utcnow())
        .returning(AISession.state_version)
    )
    version = result.scalar_one_or_none()
    if version is None:
        raise NotFound(f"AI session {ai_session_id} does not exist.", code="ai_session_not_found")
    return version


async def get_session(
    session: AsyncSession, account_id: int, ai_session_id: int, *, for_update: bool = False
) -> AISession:
    return await get_scoped(
        session, AISession, ai_session_id, account_id, what="AI session", for_update=for_update
    )


def require_active(ai_session: AISession) -> None:
    if ai_session.status not in OPEN_STATUSES:
        raise Conflict(
            f"The session is already {ai_session.status.replace('_', ' ')}.",
            code="session_closed",
            details={"status": ai_session.status},
        )


async def nudge_delay(session: AsyncSession, account_id: int, default_minutes: float) -> timedelta:
    prefs = (
        await session.execute(select(Account.preferences).where(Account.id == account_id))
    ).scalar_one_or_none() or {}
    return timedelta(minutes=prefs.get("nudge_after_minutes") or default_minutes)


async def session_out(
    session: AsyncSession, ai_session: AISession, *, nudge_after: timedelta
) -> SessionOut:
    return (await sessions_out(session, [ai_session], nudge_after=nudge_after))[0]


async def sessions_out(
    session: AsyncSession, ai_sessions: list[AISession], *, nudge_after: timedelta
) -> list[SessionOut]:
    """Sessions as the pod sees them, with two queries however many sessions there are."""
    ids = [s.id for s in ai_sessions]
    fixes = {
        f.session_id: f
        for f in (
            await session.execute(
                select(SuggestedFix).where(
                    SuggestedFix.session_id.in_(ids),
                    SuggestedFix.superseded_at.is_(None),
                    SuggestedFix.status != "dismissed",
                )
            )
        ).scalars()
    }
    writebacks: dict[int, Writeback] = {}
    for writeback in (
        await session.execute(
            select(Writeback).where(Writeback.session_id.in_(ids)).order_by(Writeback.id)
        )
    ).scalars():
        writebacks[writeback.session_id] = writeback  # the newest wins
    now = utcnow()
    return [
        _session_out(s, fixes.get(s.id), writebacks.get(s.id), now, nudge_after)
        for s in ai_sessions
    ]


def _session_out(
    ai_session: AISession,
    fix: SuggestedFix | None,
    writeback: Writeback | None,
    now,
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
        latest_writeback=WritebackBrief(
            id=writeback.id,
            kind=writeback.kind,
            state=writeback.state,
            stage=writeback.stage,
            last_error=writeback.last_error,
            attempts=writeback.attempts,
        )
        if writeback
        else None,
        created_at=ai_session.created_at,
        updated_at=ai_session.updated_at,
    )
