"""Similar resolved work for a session: the query its state makes, the matches as the pod
shows them, and the top matches as grounded evidence for the assistant's prompt."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.documents import session_doc_key
from plugin.features.search.models import ResolvedWork
from plugin.features.search.schemas import SimilarWork, TriedFix
from plugin.features.search.search import SimilarIndex, shared_index
from plugin.features.sessions.models import Fact, Message
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import utcnow
from plugin.kernel.redaction import redact_text
from plugin.kernel.states import FixStatus, MessageRole

QUERY_MESSAGES = 3
MAX_QUERY_CHARS = 2000
SIMILAR_LIMIT = 5
PROMPT_LIMIT = 3


async def session_query(db: AsyncSession, ai_session: AISession) -> str:
    """What the session is about, redacted: its ticket's summary, its facts and what the
    engineer first wrote."""
    facts = (
        await db.execute(
            select(Fact.text).where(Fact.session_id == ai_session.id).order_by(Fact.id)
        )
    ).scalars()
    messages = (
        await db.execute(
            select(Message.content)
            .where(Message.session_id == ai_session.id, Message.role == MessageRole.USER)
            .order_by(Message.id)
            .limit(QUERY_MESSAGES)
        )
    ).scalars()
    summary = (ai_session.ticket_context or {}).get("summary") or ai_session.title
    text = " ".join([summary, *facts, *messages])
    return redact_text(text)[:MAX_QUERY_CHARS]


async def similar_work(
    db: AsyncSession,
    ai_session: AISession,
    *,
    expansion: str = "",
    limit: int = SIMILAR_LIMIT,
    index: SimilarIndex | None = None,
) -> list[SimilarWork]:
    """The session's best matches among the account's resolved work (never itself)."""
    index = index or shared_index()
    rows = await index.search(
        db,
        ai_session.account_id,
        await session_query(db, ai_session),
        expansion=expansion,
        limit=limit,
        exclude_keys=[session_doc_key(ai_session)],
    )
    return [similar_out(row) for row in rows]


def similar_out(row: ResolvedWork) -> SimilarWork:
    tried = [
        TriedFix(
            title=fix["title"],
            status=fix["status"],
            notes=fix.get("notes") or None,
            template_id=fix.get("template_id"),
        )
        for fix in row.fixes or []
    ]
    worked = [fix for fix in tried if fix.status == FixStatus.APPLIED_SUCCESS]
    return SimilarWork(
        id=row.id,
        source=row.source,
        ticket_id=row.psa_ticket_id,
        session_id=row.session_id,
        summary=row.summary,
        problem=row.problem,
        outcome=row.outcome,
        closed_at=row.closed_at,
        age_days=max(0, (utcnow() - row.closed_at).days),
        fixed_by=worked[-1] if worked else None,
        failed_fixes=[fix for fix in tried if fix.status == FixStatus.APPLIED_FAILED],
        tried=tried,
        root_cause=row.root_cause or None,
        resolution=row.resolution or None,
    )


def reference(item: SimilarWork) -> str:
    """How a past ticket is named to the engineer: "#4711" (or "session 12")."""
    return f"#{item.ticket_id}" if item.ticket_id is not None else f"session {item.session_id}"


def _joined(refs: list[str]) -> str:
    return refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + f" and {refs[-1]}"


@dataclass(frozen=True)
class SimilarEvidence:
    """One similar past ticket, as the assistant may cite it."""

    ticket: str  # "#4711"
    summary: str
    outcome: str
    age_days: int
    worked: str | None  # the verified fix
    failed: list[str] = field(default_factory=list)
    root_cause: str | None = None
    resolution: str | None = None
    # "worked on #4711 and #4820": every top match where this ticket's fix also worked.
    worked_on: str | None = None
    template_id: int | None = None

    def as_prompt(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "")}


def _fix_key(fix: TriedFix) -> str:
    return f"template:{fix.template_id}" if fix.template_id else fix.title.strip().lower()


def evidence_from(items: list[SimilarWork]) -> list[SimilarEvidence]:
    """The matches as evidence, each verified fix attributed to every match it worked on."""
    worked_refs: dict[str, list[str]] = {}
    for item in items:
        for fix in item.tried:
            if fix.status == FixStatus.APPLIED_SUCCESS:
                refs = worked_refs.setdefault(_fix_key(fix), [])
                if reference(item) not in refs:
                    refs.append(reference(item))
    evidence = []
    for item in items:
        fix = item.fixed_by
        evidence.append(
            SimilarEvidence(
                ticket=reference(item),
                summary=item.summary,
                outcome=item.outcome,
                age_days=item.age_days,
                worked=fix.title if fix else None,
                failed=[f.title for f in item.failed_fixes],
                root_cause=item.root_cause,
                resolution=item.resolution,
                worked_on=f"worked on {_joined(worked_refs[_fix_key(fix)])}" if fix else None,
                template_id=fix.template_id if fix else None,
            )
        )
    return evidence


async def similar_for_prompt(
    db: AsyncSession, ai_session: AISession, *, index: SimilarIndex | None = None
) -> list[SimilarEvidence]:
    """The top three similar past tickets as grounded evidence for the assistant's context:
    what worked ("worked on #4711 and #4820"), what failed, the root cause and resolution.
    Everything in them was redacted when it was indexed."""
    # Attributions look at every match shown in the pod, the evidence is the top three.
    items = await similar_work(db, ai_session, index=index)
    return evidence_from(items)[:PROMPT_LIMIT]


async def template_records_on_similar(
    db: AsyncSession,
    account_id: int,
    text: str,
    *,
    limit: int = SIMILAR_LIMIT * 2,
    index: SimilarIndex | None = None,
) -> dict[int, dict[str, Any]]:
    """template id → how its fixes went on the tickets most similar to `text`:
    {"worked", "failed", "worked_on": ["#4711", …], "failed_on": […]}."""
    if not text.strip():
        return {}
    index = index or shared_index()
    records: dict[int, dict[str, Any]] = {}
    for row in await index.search(db, account_id, redact_text(text), limit=limit):
        item = similar_out(row)
        for fix in item.tried:
            outcome = {FixStatus.APPLIED_SUCCESS: "worked", FixStatus.APPLIED_FAILED: "failed"}
            if fix.template_id is None or fix.status not in outcome:
                continue
            record = records.setdefault(
                fix.template_id, {"worked": 0, "failed": 0, "worked_on": [], "failed_on": []}
            )
            key = outcome[FixStatus(fix.status)]
            record[key] += 1
            if reference(item) not in record[f"{key}_on"]:
                record[f"{key}_on"].append(reference(item))
    return records
