"""Searching the similar-work index: words (the database's full-text ranking), meaning (the
embeddings), or both fused by reciprocal rank.

`bench/similar.py` measures the three on the evaluation set (tests/data/similar/); the
fusion is the default because it won there (figures in the README).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.models import ResolvedWork
from plugin.features.search.terms import query_terms
from plugin.features.search.text_index import text_index_for
from plugin.features.search.vectors import VectorStore, embed

# Each ranking contributes this many candidates to the fusion.
CANDIDATES = 50
# Reciprocal rank fusion's customary constant. A smaller k (trusting each list's first
# places more) did no better on the evaluation set; bench/similar.py prints both.
RRF_K = 60


class Ranking(StrEnum):
    TEXT = "text"
    MEANING = "meaning"
    FUSION = "fusion"


def fuse(rankings: Iterable[list[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to its documents."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda doc_id: (-scores[doc_id], doc_id))


class SimilarIndex:
    """The searcher: the backend's text index and the in-memory vectors."""

    def __init__(self, ranking: Ranking = Ranking.FUSION, rrf_k: int = RRF_K) -> None:
        self.ranking = ranking
        self.rrf_k = rrf_k
        self.vectors = VectorStore()

    async def search_ids(
        self,
        db: AsyncSession,
        account_id: int,
        query: str,
        *,
        expansion: str = "",
        limit: int = 5,
        exclude_keys: Iterable[str] = (),
        ranking: Ranking | None = None,
    ) -> list[int]:
        """The account's best-matching document ids, best first. An `expansion` (search terms
        from the LLM) adds the expanded query's rankings to the fusion rather than replacing
        the query's own: on the evaluation set, replacing them let generic terms pull in
        same-product tickets about other problems."""
        ranking = ranking or self.ranking
        excluded = set(exclude_keys)
        wanted = limit + len(excluded)
        texts = [query] + ([f"{query} {expansion}"] if query.strip() and expansion.strip() else [])
        lists: list[list[int]] = []
        for text in texts:
            if ranking in (Ranking.TEXT, Ranking.FUSION):
                text_index = text_index_for(db.bind.dialect.name)
                lists.append(await text_index.search(db, account_id, query_terms(text), CANDIDATES))
            if ranking in (Ranking.MEANING, Ranking.FUSION) and text.strip():
                vector = embed([text])[0]
                lists.append(await self.vectors.nearest(db, account_id, vector, CANDIDATES))
        if not lists:
            return []
        ids = lists[0] if len(lists) == 1 else fuse(lists, self.rrf_k)
        if excluded:
            ids = await _without(db, ids[:wanted], excluded)
        return ids[:limit]

    async def search(
        self, db: AsyncSession, account_id: int, query: str, **options
    ) -> list[ResolvedWork]:
        ids = await self.search_ids(db, account_id, query, **options)
        if not ids:
            return []
        rows = {
            row.id: row
            for row in (
                await db.execute(select(ResolvedWork).where(ResolvedWork.id.in_(ids)))
            ).scalars()
        }
        return [rows[i] for i in ids if i in rows]


async def _without(db: AsyncSession, ids: list[int], keys: set[str]) -> list[int]:
    if not ids:
        return ids
    dropped = set(
        (
            await db.execute(
                select(ResolvedWork.id).where(
                    ResolvedWork.id.in_(ids), ResolvedWork.doc_key.in_(keys)
                )
            )
        ).scalars()
    )
    return [i for i in ids if i not in dropped]


@cache
def shared_index() -> SimilarIndex:
    """The process's searcher. The model is read-only data and the vectors a read-through
    copy of the database (per database and account, checked against the index version on
    every search), so one instance serves every app and caller in the process — including
    callers without the app at hand (the chat turn, the template match)."""
    return SimilarIndex()
