"""The engineer's decision on a suggested fix: run it once, draft a template from it, build
one in the builder, or dismiss it.

The LLM (template extraction) is asked outside any transaction; the decision is then
written in one transaction that checks again that the session and the fix have not moved
on meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.fixes.schemas import DecisionOut
from plugin.features.fixes.service import fix_out, get_fix, transition
from plugin.features.scripts.download import script_download
from plugin.features.scripts.extraction import ExtractionResult, extract_template
from plugin.features.scripts.service import (
    draft_from_extraction,
    get_template,
    store_generation,
)
from plugin.kernel.ai_sessions import bump_state_version, get_ai_session, require_active
from plugin.kernel.db import Database, utcnow
from plugin.kernel.errors import BadRequest, Conflict
from plugin.kernel.http import Principal
from plugin.kernel.script_lint import guess_language, lint_script
from plugin.kernel.states import FixDecision, FixStatus
from providers.llm import LLMProvider


@dataclass(frozen=True)
class DecisionRequest:
    principal: Principal
    ai_session_id: int
    fix_id: int
    decision: FixDecision
    edited_script: str | None

    @property
    def edited(self) -> str | None:
        return self.edited_script if self.edited_script and self.edited_script.strip() else None


async def decide_fix(database: Database, llm: LLMProvider, ask: DecisionRequest) -> DecisionOut:
    async with database.read() as db:
        fix = await _live_fix(db, ask)
    script = ask.edited or fix.ai_drafted_script
    runs_script = ask.decision in (FixDecision.ONE_OFF, FixDecision.DRAFT_TEMPLATE)
    if runs_script and fix.template_id is None and not script:
        raise BadRequest(
            "This fix has no script to run: write one (edited_script) or build a template.",
            code="fix_has_no_script",
        )
    extracted = None
    if ask.decision == FixDecision.DRAFT_TEMPLATE and script:
        extracted = await extract_template(llm, script, guess_language(script))
    async with database.write() as tx:
        fix = await _live_fix(tx, ask, for_update=True)
        out = await _carry_out(tx, ask, fix, script)
        if extracted is not None:
            out["draft_template_id"] = await _store_draft(tx, ask, fix, out, extracted)
        elif ask.decision == FixDecision.DRAFT_TEMPLATE:  # template-matched: nothing to extract
            out["draft_template_id"] = None
        fix.decision = ask.decision
        fix.decided_at = utcnow()
        fix.edited_script = ask.edited or fix.edited_script
        await tx.flush()
        version = await bump_state_version(tx, ask.ai_session_id)
        language = out.pop("language", None)
        return DecisionOut(
            decision=ask.decision,
            fix=fix_out(fix, version),
            state_version=version,
            **out,
            **_runnable(out.get("rendered_script"), language, fix),
        )


def _runnable(script: str | None, language: str | None, fix: SuggestedFix) -> dict[str, Any]:
    """The lint's findings on the script to run, and the script as a file to save."""
    if not script:
        return {}
    language = language or guess_language(script)
    return {
        "findings": lint_script(script, language),
        "download": script_download(script, language, f"fix-{fix.id}-{fix.title}"),
    }


async def _live_fix(
    db: AsyncSession, ask: DecisionRequest, *, for_update: bool = False
) -> SuggestedFix:
    """The fix, in an active session; a superseded one only takes a dismissal."""
    ai_session = await get_ai_session(
        db, ask.principal.account_id, ask.ai_session_id, for_update=for_update
    )
    require_active(ai_session)
    fix = await get_fix(db, ai_session.id, ask.fix_id)
    if fix.superseded_at is not None and ask.decision != FixDecision.DISMISSED:
        raise Conflict("This fix has been superseded by a newer suggestion.", code="fix_superseded")
    return fix


async def _carry_out(
    tx: AsyncSession, ask: DecisionRequest, fix: SuggestedFix, script: str | None
) -> dict[str, Any]:
    """What the decision does now, as fields of the answer."""
    if ask.decision == FixDecision.DISMISSED:
        await transition(tx, fix, target=FixStatus.DISMISSED, via="decision")
        return {}
    if ask.decision == FixDecision.BUILD_TEMPLATE:
        return {
            "redirect_path": f"/scripts/builder?from_session={ask.ai_session_id}&fix={ask.fix_id}"
        }
    if fix.template_id is not None and ask.edited is None:
        template = await get_template(tx, ask.principal.account_id, fix.template_id)
        generation, rendered = await store_generation(
            tx,
            account_id=ask.principal.account_id,
            template=template,
            values=dict(fix.ai_drafted_parameters or {}),
            ai_session_id=ask.ai_session_id,
            suggested_fix_id=fix.id,
            actor=ask.principal.actor,
        )
        return {
            "rendered_script": rendered,
            "generation_id": generation.id,
            "language": template.language,
        }
    return {"rendered_script": script}


async def _store_draft(
    tx: AsyncSession,
    ask: DecisionRequest,
    fix: SuggestedFix,
    out: dict[str, Any],
    extracted: ExtractionResult,
) -> int:
    script = out["rendered_script"]
    draft = draft_from_extraction(
        account_id=ask.principal.account_id,
        session_id=ask.ai_session_id,
        fix_id=fix.id,
        name=fix.title,
        language=guess_language(script),
        script=script,
        extracted=extracted,
    )
    tx.add(draft)
    await tx.flush()
    return draft.id
