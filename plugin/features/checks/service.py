"""Diagnostic checks: stored from the assistant's [CHECKS] block, ticked off into facts."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.checks.models import CHECK_TEXT_MAX, DiagnosticCheck
from plugin.features.checks.schemas import CheckOut
from plugin.kernel.db import utcnow
from plugin.kernel.redaction import redact_text
from plugin.kernel.states import CheckStatus

MAX_OPEN_CHECKS = 8


def check_out(check: DiagnosticCheck, state_version: int | None = None) -> CheckOut:
    return CheckOut(
        id=check.id,
        text=check.text,
        status=check.status,
        result=check.result,
        fact_id=check.fact_id,
        message_id=check.message_id,
        created_at=check.created_at,
        state_version=state_version,
    )


async def propose_checks(
    tx: AsyncSession, ai_session_id: int, texts: list[str], message_id: int | None
) -> list[DiagnosticCheck]:
    """The assistant's newest checks replace its open ones (a check already ticked off
    stays, with its fact); a check proposed again is kept, not repeated."""
    open_checks = (
        await tx.execute(
            select(DiagnosticCheck).where(
                DiagnosticCheck.session_id == ai_session_id,
                DiagnosticCheck.status == CheckStatus.PROPOSED,
            )
        )
    ).scalars()
    wanted = [redact_text(text)[:CHECK_TEXT_MAX] for text in texts][:MAX_OPEN_CHECKS]
    kept = {check.text.casefold(): check for check in open_checks}
    stale = [check.id for key, check in kept.items() if key not in {t.casefold() for t in wanted}]
    if stale:
        await tx.execute(
            update(DiagnosticCheck)
            .where(DiagnosticCheck.id.in_(stale))
            .values(status=CheckStatus.DISMISSED, updated_at=utcnow())
        )
    added = []
    for text in dict.fromkeys(wanted):
        if text.casefold() in kept:
            continue
        check = DiagnosticCheck(
            session_id=ai_session_id, message_id=message_id, text=text, status=CheckStatus.PROPOSED
        )
        tx.add(check)
        added.append(check)
    await tx.flush()
    return added


def fact_text(check: DiagnosticCheck, result: str) -> str:
    """The fact a ticked check becomes: the check and what it showed."""
    return f"{check.text.rstrip(' ?.:')}: {result}"
