"""How each template's fixes went, and the library as the assistant sees it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.fixes.models import SuggestedFix
from plugin.features.scripts.models import ScriptTemplate
from plugin.features.search.service import template_records_on_similar
from plugin.kernel.states import FixStatus
from providers.llm.offline import rank_templates, words_of

RECORD_KEYS = ("suggested", "applied", "worked", "failed", "partial", "pending")
_STATUS_KEY = {
    FixStatus.APPLIED_SUCCESS: "worked",
    FixStatus.APPLIED_FAILED: "failed",
    FixStatus.APPLIED_PARTIAL: "partial",
    FixStatus.APPLIED_PENDING: "pending",
}
MAX_TEMPLATES_IN_PROMPT = 5


def empty_record() -> dict[str, int]:
    return dict.fromkeys(RECORD_KEYS, 0)


async def track_records(
    db: AsyncSession, account_id: int, template_ids: list[int] | None = None
) -> dict[int, dict[str, int]]:
    """template id → {suggested, applied, worked, failed, partial, pending}."""
    stmt = (
        select(
            SuggestedFix.template_id,
            SuggestedFix.status,
            func.count(),
            func.count(SuggestedFix.applied_at),
        )
        .join(ScriptTemplate, ScriptTemplate.id == SuggestedFix.template_id)
        .where(ScriptTemplate.account_id == account_id)
        .group_by(SuggestedFix.template_id, SuggestedFix.status)
    )
    if template_ids is not None:
        stmt = stmt.where(SuggestedFix.template_id.in_(template_ids))
    records: dict[int, dict[str, int]] = {}
    for template_id, status, count, applied in (await db.execute(stmt)).all():
        record = records.setdefault(template_id, empty_record())
        record["suggested"] += count
        record["applied"] += applied
        if status in _STATUS_KEY:
            record[_STATUS_KEY[status]] += count
    return records


def template_for_prompt(template: ScriptTemplate, record: dict[str, int]) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "description": template.description,
        "keywords": list(template.keywords or []),
        "language": template.language,
        "parameters_schema": list(template.parameters_schema or []),
        "track_record": record,
    }


async def matching_templates(
    db: AsyncSession,
    account_id: int,
    conversation: str,
    *,
    limit: int = MAX_TEMPLATES_IN_PROMPT,
) -> list[dict[str, Any]]:
    """The library templates that match the conversation, best first, with their record
    and how they went on the most similar past tickets (`similar_record`), so what worked
    on tickets like this one is preferred and what failed on them is not suggested first."""
    templates = (
        (await db.execute(select(ScriptTemplate).where(ScriptTemplate.account_id == account_id)))
        .scalars()
        .all()
    )
    if not templates:
        return []
    records = await track_records(db, account_id)
    on_similar = await template_records_on_similar(db, account_id, conversation)
    described = [template_for_prompt(t, records.get(t.id, empty_record())) for t in templates]
    for template in described:
        if template["id"] in on_similar:
            template["similar_record"] = on_similar[template["id"]]
    ranked = rank_templates(described, words_of(conversation))
    return [dict(m.template) for m in ranked[:limit]]
