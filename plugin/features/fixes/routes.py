"""Suggested fixes over HTTP: the active one, history, apply, outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.fixes.schemas import FixList, FixOut, OutcomeIn
from plugin.features.fixes.service import active_fix, fix_out, get_fix, mark_applied, transition
from plugin.kernel.ai_sessions import bump_state_version, get_ai_session, require_active
from plugin.kernel.errors import NotFound, Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.secret_memory import take_in
from plugin.kernel.states import FixStatus

routes = RouteTable("suggested-fixes")
FIXES = "/api/v1/ai-sessions/{session_id}/suggested-fixes"


@routes.get(
    FIXES + "/active",
    summary="The session's active fix (404 when there is none)",
    response=FixOut,
    errors=(404,),
)
async def get_active_fix(req: Req) -> FixOut:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        fix = await active_fix(db, ai_session.id)
    if fix is None:
        raise NotFound("The session has no active fix.", code="no_active_fix")
    return fix_out(fix)


@routes.get(
    FIXES, summary="Every fix of the session, newest first", response=FixList, errors=(404,)
)
async def list_fixes(req: Req) -> FixList:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        fixes = (
            await db.execute(
                select(SuggestedFix)
                .where(SuggestedFix.session_id == ai_session.id)
                .order_by(SuggestedFix.id.desc())
            )
        ).scalars()
        return FixList(items=[fix_out(f) for f in fixes])


@routes.post(
    FIXES + "/{fix_id}/apply",
    summary="Record that the engineer applied the fix (stamps applied_at once)",
    response=FixOut,
    errors=(404, 409),
)
async def apply_fix(req: Req) -> FixOut:
    async def work(tx: AsyncSession) -> FixOut:
        # The session row first, as every write of a session's state: one lock order.
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        fix = await get_fix(tx, ai_session.id, req.path_int("fix_id"))
        changed = await mark_applied(tx, fix)
        version = (
            await bump_state_version(tx, ai_session.id) if changed else ai_session.state_version
        )
        return fix_out(fix, version)

    return await req.database.write_retrying(work)


@routes.patch(
    FIXES + "/{fix_id}/outcome",
    summary="Report how the fix went: worked, didn't, partly (notes) or waiting (reason)",
    body=OutcomeIn,
    response=FixOut,
    errors=(404, 409),
)
async def set_outcome(req: Req[OutcomeIn, Any]) -> FixOut:
    reason = (req.body.failure_reason or "").strip() or None
    if reason is not None and req.body.outcome != FixStatus.APPLIED_FAILED:
        raise Unprocessable(
            "A failure reason goes with applied_failed only.",
            details={"fields": {"failure_reason": "only with outcome applied_failed"}},
        )

    async def work(tx: AsyncSession) -> FixOut:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        fix = await get_fix(tx, ai_session.id, req.path_int("fix_id"))
        await transition(
            tx,
            fix,
            target=req.body.outcome,
            notes=req.body.notes,
            pending_reason=req.body.pending_reason,
        )
        if req.body.outcome == FixStatus.APPLIED_FAILED:
            # The engineer's words may carry a secret: remembered and redacted like a fact.
            taken = (
                await take_in(tx, req.instance.box(), ai_session.id, reason, source="outcome")
                if reason
                else None
            )
            fix.failure_reason = taken.text if taken else None
            await tx.flush()
        version = await bump_state_version(tx, ai_session.id)
        return fix_out(fix, version)

    return await req.database.write_retrying(work)
