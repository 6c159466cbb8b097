"""The engineer's decision on a suggested fix: run it once, draft a template from it, build
one in the builder, or dismiss it."""

from __future__ import annotations

from typing import Any

from plugin.db import utcnow
from plugin.errors import BadRequest, Conflict
from plugin.fixes.models import SuggestedFix
from plugin.fixes.schemas import DecisionIn, DecisionOut
from plugin.fixes.service import fix_out, get_fix, transition
from plugin.http import Req, RouteTable
from plugin.scripts.extraction import extract_template
from plugin.scripts.service import (
    draft_from_extraction,
    get_template,
    guess_language,
    store_generation,
)
from plugin.sessions.service import bump_state_version, get_session, require_active

routes = RouteTable("suggested-fixes")


def _script_of(fix: SuggestedFix, edited: str | None) -> str | None:
    return edited if edited and edited.strip() else fix.ai_drafted_script


@routes.post(
    "/api/v1/ai-sessions/{session_id}/suggested-fixes/{fix_id}/decision",
    summary="Decide how to run the fix: one_off, draft_template, build_template or dismissed",
    body=DecisionIn,
    response=DecisionOut,
    errors=(400, 404, 409),
)
async def decide(req: Req[DecisionIn, Any]) -> DecisionOut:
    services = req.services
    session_id, fix_id = req.path_int("session_id"), req.path_int("fix_id")
    decision, edited = req.body.decision, req.body.edited_script

    async with services.db.read() as session:
        ai_session = await get_session(session, req.account_id, session_id)
        require_active(ai_session)
        fix = await get_fix(session, ai_session.id, fix_id)
    if fix.superseded_at is not None and decision != "dismissed":
        raise Conflict("This fix has been superseded by a newer suggestion.", code="fix_superseded")

    script = _script_of(fix, edited)
    extracted = None
    if decision in ("one_off", "draft_template") and fix.template_id is None and not script:
        raise BadRequest(
            "This fix has no script to run: write one (edited_script) or build a template.",
            code="fix_has_no_script",
        )
    if decision == "draft_template" and script:
        # The LLM call happens outside any transaction.
        extracted = await extract_template(services.llm, script, guess_language(script))

    async with services.db.write() as session:
        # Checked again: the session or the fix may have moved on during extraction.
        ai_session = await get_session(session, req.account_id, session_id, for_update=True)
        require_active(ai_session)
        fix = await get_fix(session, ai_session.id, fix_id)
        if fix.superseded_at is not None and decision != "dismissed":
            raise Conflict(
                "This fix has been superseded by a newer suggestion.", code="fix_superseded"
            )
        out: dict[str, Any] = {}
        if decision == "dismissed":
            await transition(session, fix, target="dismissed", via="decision")
        elif decision == "build_template":
            out["redirect_path"] = f"/scripts/builder?from_session={session_id}&fix={fix_id}"
        elif fix.template_id is not None and not (edited and edited.strip()):
            template = await get_template(session, req.account_id, fix.template_id)
            generation, rendered = await store_generation(
                session,
                account_id=req.account_id,
                template=template,
                values=dict(fix.ai_drafted_parameters or {}),
                ai_session_id=session_id,
                suggested_fix_id=fix.id,
                actor=req.principal.actor,
            )
            out.update(rendered_script=rendered, generation_id=generation.id)
            script = rendered
        else:
            out["rendered_script"] = script
        if extracted is not None:
            draft = draft_from_extraction(
                account_id=req.account_id,
                session_id=session_id,
                fix_id=fix.id,
                name=fix.title,
                language=guess_language(script),
                script=script,
                extracted=extracted,
            )
            session.add(draft)
            await session.flush()
            out["draft_template_id"] = draft.id
        elif decision == "draft_template":  # a template-matched fix: nothing to extract
            out["draft_template_id"] = None
        fix.decision = decision
        fix.decided_at = utcnow()
        fix.edited_script = edited if edited and edited.strip() else fix.edited_script
        await session.flush()
        version = await bump_state_version(session, session_id)
        return DecisionOut(
            decision=decision, fix=fix_out(fix, version), state_version=version, **out
        )
