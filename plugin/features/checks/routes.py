"""Diagnostic checks over HTTP: the session's checks, tick one off with its result (a fact),
or set one aside."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from plugin.features.checks.models import DiagnosticCheck
from plugin.features.checks.schemas import CheckList, CheckOut, CheckResultIn, CheckResultOut
from plugin.features.checks.service import check_out, fact_text
from plugin.features.sessions.models import Fact
from plugin.features.sessions.service import fact_out
from plugin.kernel.ai_sessions import bump_state_version, get_ai_session, require_active
from plugin.kernel.errors import Conflict
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.secret_memory import take_in
from plugin.kernel.states import CheckStatus, FactSource
from plugin.kernel.tenancy import get_owned

routes = RouteTable("diagnostic-checks")
CHECKS = "/api/v1/ai-sessions/{session_id}/checks"


@routes.get(
    CHECKS,
    summary="The diagnostic checks the assistant proposed, oldest first (open, done, set aside)",
    response=CheckList,
    errors=(404,),
)
async def list_checks(req: Req) -> CheckList:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        rows = await db.execute(
            select(DiagnosticCheck)
            .where(DiagnosticCheck.session_id == ai_session.id)
            .order_by(DiagnosticCheck.id)
        )
        return CheckList(items=[check_out(c) for c in rows.scalars()])


@routes.post(
    CHECKS + "/{check_id}/result",
    summary="Tick a check off with what it showed: the result becomes a confirmed fact",
    body=CheckResultIn,
    response=CheckResultOut,
    status=201,
    errors=(404, 409),
)
async def record_result(req: Req[CheckResultIn, Any]) -> CheckResultOut:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        check = await _check(tx, ai_session.id, req.path_int("check_id"))
        if check.status == CheckStatus.DONE:
            raise Conflict("This check already has a result.", code="check_done")
        taken = await take_in(tx, req.instance.box(), ai_session.id, req.body.result, source="fact")
        fact = Fact(
            session_id=ai_session.id,
            text=fact_text(check, taken.text),
            redactions=taken.redactions or None,
            source=FactSource.ENGINEER,
        )
        tx.add(fact)
        await tx.flush()
        check.status, check.result, check.fact_id = CheckStatus.DONE, taken.text, fact.id
        await tx.flush()
        version = await bump_state_version(tx, ai_session.id)
        return CheckResultOut(
            check=check_out(check, version), fact=fact_out(fact, version), state_version=version
        )


@routes.post(
    CHECKS + "/{check_id}/dismiss",
    summary="Set a proposed check aside (it does not apply)",
    response=CheckOut,
    errors=(404, 409),
)
async def dismiss_check(req: Req) -> CheckOut:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        check = await _check(tx, ai_session.id, req.path_int("check_id"))
        if check.status == CheckStatus.DONE:
            raise Conflict("This check already has a result.", code="check_done")
        check.status = CheckStatus.DISMISSED
        await tx.flush()
        return check_out(check)


async def _check(tx, ai_session_id: int, check_id: int) -> DiagnosticCheck:
    return await get_owned(
        tx,
        DiagnosticCheck,
        check_id,
        owner=DiagnosticCheck.session_id,
        owner_id=ai_session_id,
        what="Check",
    )
