"""Suggested fixes: suggestion and supersession, apply, outcomes through the transition
table with a compare-and-set, so concurrent writers cannot both win."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import IS_ACTIVE_FIX, SuggestedFix
from plugin.features.fixes.schemas import FixOut
from plugin.features.fixes.transitions import (
    FixStatus,
    TransitionError,
    TransitionPlan,
    plan_transition,
)
from plugin.kernel.db import utcnow
from plugin.kernel.errors import ApiError, Conflict
from plugin.kernel.script_lint import lint_script
from plugin.kernel.tenancy import get_owned

log = structlog.get_logger("fixpilot.fixes")


def fix_out(fix: SuggestedFix, state_version: int | None = None) -> FixOut:
    return FixOut(
        id=fix.id,
        session_id=fix.session_id,
        title=fix.title,
        summary=fix.summary,
        confidence=fix.confidence,
        template_id=fix.template_id,
        ai_drafted_parameters=fix.ai_drafted_parameters,
        ai_drafted_script=fix.ai_drafted_script,
        status=fix.status,
        decision=fix.decision,
        decided_at=fix.decided_at,
        edited_script=fix.edited_script,
        applied_at=fix.applied_at,
        verified_at=fix.verified_at,
        partial_notes=fix.partial_notes,
        pending_reason=fix.pending_reason,
        failure_reason=fix.failure_reason,
        superseded_at=fix.superseded_at,
        created_at=fix.created_at,
        state_version=state_version,
        # Every script an engineer can run carries the lint's findings, an AI-drafted one
        # above all: the model wrote it after reading customer-written ticket text.
        findings=lint_script(fix.edited_script or fix.ai_drafted_script),
    )


async def active_fix(db: AsyncSession, ai_session_id: int) -> SuggestedFix | None:
    return (
        await db.execute(
            select(SuggestedFix).where(SuggestedFix.session_id == ai_session_id, IS_ACTIVE_FIX)
        )
    ).scalar_one_or_none()


async def get_fix(db: AsyncSession, ai_session_id: int, fix_id: int) -> SuggestedFix:
    return await get_owned(
        db,
        SuggestedFix,
        fix_id,
        owner=SuggestedFix.session_id,
        owner_id=ai_session_id,
        what="Suggested fix",
    )


@dataclass(frozen=True)
class NewSuggestion:
    title: str
    summary: str
    confidence: int | None
    template_id: int | None
    parameters: dict[str, Any] | None
    script: str | None


async def suggest(
    tx: AsyncSession,
    ai_session_id: int,
    suggestion: NewSuggestion,
    *,
    source_message_id: int | None = None,
) -> SuggestedFix:
    """Supersede the active fix (if any) and make this one the active fix."""
    now = utcnow()
    await tx.execute(
        update(SuggestedFix)
        .where(SuggestedFix.session_id == ai_session_id, IS_ACTIVE_FIX)
        .values(superseded_at=now, updated_at=now)
    )
    fix = SuggestedFix(
        session_id=ai_session_id,
        title=suggestion.title[:500],
        summary=suggestion.summary,
        confidence=suggestion.confidence,
        template_id=suggestion.template_id,
        ai_drafted_parameters=suggestion.parameters,
        ai_drafted_script=suggestion.script,
        status=FixStatus.SUGGESTED.value,
        source_message_id=source_message_id,
    )
    tx.add(fix)
    await tx.flush()
    return fix


async def mark_applied(tx: AsyncSession, fix: SuggestedFix) -> bool:
    """Stamp applied_at once. Returns whether anything changed (idempotent)."""
    if not fix.is_active:
        raise Conflict(
            "This fix has been superseded or dismissed; apply the active fix instead.",
            code="fix_superseded",
        )
    if fix.applied_at is not None:
        return False
    result = await tx.execute(
        update(SuggestedFix)
        .where(
            SuggestedFix.id == fix.id,
            SuggestedFix.applied_at.is_(None),
            SuggestedFix.superseded_at.is_(None),
        )
        .values(applied_at=utcnow(), updated_at=utcnow())
    )
    await tx.refresh(fix)
    return result.rowcount == 1


async def transition(
    tx: AsyncSession,
    fix: SuggestedFix,
    *,
    target: str,
    notes: str | None = None,
    pending_reason: str | None = None,
    via: str = "outcome",
) -> SuggestedFix:
    """Apply one move of the transition table as a compare-and-set on what was read.

    Raises ApiError (409/422) when the table refuses it or another writer got there first.
    """
    try:
        plan = plan_transition(
            current=fix.status,
            superseded=fix.superseded_at is not None,
            target=target,
            notes=notes,
            pending_reason=pending_reason,
            applied_at_set=fix.applied_at is not None,
            via=via,  # type: ignore[arg-type]
        )
    except TransitionError as exc:
        raise ApiError(
            exc.message, code=exc.code, status=exc.http_status, details=exc.details
        ) from None
    now = utcnow()
    values = _values(plan, now)
    result = await tx.execute(
        update(SuggestedFix)
        .where(
            SuggestedFix.id == fix.id,
            SuggestedFix.status == fix.status,
            SuggestedFix.superseded_at.is_(None),
            _same(SuggestedFix.partial_notes, fix.partial_notes),
            _same(SuggestedFix.pending_reason, fix.pending_reason),
        )
        .values(**values)
    )
    if result.rowcount != 1:
        raise Conflict(
            "The fix changed while this request was being made; reload it and try again.",
            code="fix_changed",
            details={"fix_id": fix.id},
        )
    await tx.refresh(fix)
    return fix


def _values(plan: TransitionPlan, now) -> dict[str, Any]:
    values: dict[str, Any] = {"status": plan.target.value, "updated_at": now}
    if plan.set_partial_notes is not None:
        values["partial_notes"] = plan.set_partial_notes
    if plan.set_pending_reason is not None:
        values["pending_reason"] = plan.set_pending_reason
    if plan.stamp_applied_at:
        values["applied_at"] = now
    if plan.stamp_verified_at:
        values["verified_at"] = now
    if plan.stamp_superseded_at:
        values["superseded_at"] = now
    return values


def _same(column, value):
    return column.is_(None) if value is None else column == value
