"""Writing the similar-work index: one row per piece of resolved work (a ticket once, its
session's record winning over imported history), its full-text entry, its vector, and the
account's index version raised in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.documents import WorkDocument, session_document
from plugin.features.search.models import ResolvedWork, ResolvedWorkVersion
from plugin.features.search.text_index import text_index_for
from plugin.features.search.vectors import embed, to_stored
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import insert_for, utcnow
from plugin.kernel.states import WorkSource

log = structlog.get_logger("fixpilot.search")


async def put_documents(
    tx: AsyncSession, account_id: int, documents: Sequence[WorkDocument]
) -> list[int]:
    """Index the documents (redacted here, before anything is stored or embedded); a
    document replaces the account's entry with its key, except that imported history never
    replaces a session's record. The ids of the rows written."""
    documents = [d.redacted() for d in documents]
    keys = [d.doc_key for d in documents]
    existing = {
        key: (doc_id, source)
        for doc_id, key, source in (
            await tx.execute(
                select(ResolvedWork.id, ResolvedWork.doc_key, ResolvedWork.source).where(
                    ResolvedWork.account_id == account_id, ResolvedWork.doc_key.in_(keys)
                )
            )
        ).all()
    }
    kept = [
        d
        for d in documents
        if not (
            d.source == WorkSource.HISTORY
            and existing.get(d.doc_key, (None, None))[1] == WorkSource.SESSION
        )
    ]
    if not kept:
        return []
    text_index = text_index_for(tx.bind.dialect.name)
    replaced = [existing[d.doc_key][0] for d in kept if d.doc_key in existing]
    if replaced:
        await text_index.remove(tx, account_id, replaced)
        await tx.execute(delete(ResolvedWork).where(ResolvedWork.id.in_(replaced)))
    vectors = embed([d.meaning_text for d in kept])
    rows = [_row(account_id, d, to_stored(v)) for d, v in zip(kept, vectors, strict=True)]
    tx.add_all(rows)
    await tx.flush()
    entries = [(row.id, d.search_fields()) for row, d in zip(rows, kept, strict=True)]
    await text_index.put(tx, account_id, entries)
    await bump_index_version(tx, account_id)
    return [row.id for row in rows]


def _row(account_id: int, d: WorkDocument, embedding: bytes) -> ResolvedWork:
    return ResolvedWork(
        account_id=account_id,
        doc_key=d.doc_key,
        source=d.source,
        session_id=d.session_id,
        psa_ticket_id=d.psa_ticket_id,
        summary=d.summary,
        problem=d.problem,
        facts="\n".join(d.facts),
        fixes=d.fixes,
        root_cause=d.root_cause,
        resolution=d.resolution,
        outcome=d.outcome,
        closed_at=d.closed_at,
        embedding=embedding,
        indexed_at=utcnow(),
    )


async def bump_index_version(tx: AsyncSession, account_id: int) -> None:
    stmt = insert_for(tx.bind.dialect.name, ResolvedWorkVersion).values(
        account_id=account_id, version=1
    )
    await tx.execute(
        stmt.on_conflict_do_update(
            index_elements=[ResolvedWorkVersion.account_id],
            set_={"version": ResolvedWorkVersion.version + 1},
        )
    )


async def index_closed_session(tx: AsyncSession, ai_session_id: int, note_markdown: str) -> None:
    """Index a session that was just resolved or escalated, in the transaction that closed
    it. A failure here is logged and rolled back to a savepoint: the note is already on the
    ticket, and the session's close must not depend on the index."""
    try:
        async with tx.begin_nested():
            ai_session = await tx.get(AISession, ai_session_id, populate_existing=True)
            if ai_session is None or ai_session.is_active:
                return
            document = await session_document(tx, ai_session, note_markdown)
            await put_documents(tx, ai_session.account_id, [document])
    except Exception:
        log.exception("similar_index_failed", ai_session_id=ai_session_id)
