"""Full-text ranking of the similar-work index, with what each database already has: SQLite
FTS5 (bm25) and PostgreSQL full-text search (tsvector, ts_rank_cd, a GIN index).

Both index the same pre-computed terms (`terms.py`) in four weighted fields — the problem
as the user told it (summary and description) counts double; facts, fixes and the
resolution count once — so the two backends rank alike. The structures themselves are
created by the search migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.models import FTS_TABLE, FTS_VOCAB_TABLE

PROBLEM_WEIGHT, OTHER_WEIGHT = 2.0, 1.0
# Ranking cost grows with the documents a query matches: past this many postings, the
# commonest terms (which add least to a score) are left out of the query. A small index
# never reaches it.
POSTINGS_BUDGET = 20_000
MIN_TERMS = 3


@dataclass(frozen=True)
class SearchFields:
    """A document's four weighted fields, as term text."""

    problem: str
    facts: str
    fixes: str
    resolution: str


class TextIndex(Protocol):
    async def put(self, tx: AsyncSession, doc_id: int, fields: SearchFields) -> None: ...

    async def remove(self, tx: AsyncSession, doc_ids: list[int]) -> None: ...

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        """Document ids of the account, best first."""


def text_index_for(dialect_name: str) -> TextIndex:
    return SqliteFts() if dialect_name == "sqlite" else PostgresFts()


def _or_query(terms: list[str], separator: str) -> str:
    # Terms are [a-z0-9]+ (terms.py), so they need no escaping in either query language.
    return separator.join(terms)


class SqliteFts:
    async def put(self, tx: AsyncSession, doc_id: int, fields: SearchFields) -> None:
        # A row id SQLite reuses may still have an entry (its row went by cascade).
        await self.remove(tx, [doc_id])
        await tx.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, problem, facts, fixes, resolution) "
                "VALUES (:id, :problem, :facts, :fixes, :resolution)"
            ),
            {"id": doc_id, **fields.__dict__},
        )

    async def remove(self, tx: AsyncSession, doc_ids: list[int]) -> None:
        for doc_id in doc_ids:
            await tx.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": doc_id})

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        terms = await self._within_budget(db, terms)
        if not terms:
            return []
        weights = ", ".join(str(w) for w in (PROBLEM_WEIGHT, *[OTHER_WEIGHT] * 3))
        rows = await db.execute(
            text(
                f"SELECT f.rowid FROM {FTS_TABLE} AS f "
                "JOIN resolved_work AS w ON w.id = f.rowid "
                f"WHERE {FTS_TABLE} MATCH :query AND w.account_id = :account_id "
                f"ORDER BY bm25({FTS_TABLE}, {weights}) LIMIT :limit"
            ),
            {"query": _or_query(terms, " OR "), "account_id": account_id, "limit": limit},
        )
        return [row[0] for row in rows]

    async def _within_budget(self, db: AsyncSession, terms: list[str]) -> list[str]:
        """The terms the index knows, rarest first, while their postings fit the budget."""
        if not terms:
            return []
        params = {f"t{i}": term for i, term in enumerate(terms)}
        placeholders = ", ".join(f":{name}" for name in params)
        rows = await db.execute(
            text(f"SELECT term, doc FROM {FTS_VOCAB_TABLE} WHERE term IN ({placeholders})"),
            params,
        )
        counts = sorted((doc, term) for term, doc in rows)
        kept, postings = [], 0
        for doc, term in counts:
            if len(kept) >= MIN_TERMS and postings + doc > POSTINGS_BUDGET:
                break
            kept.append(term)
            postings += doc
        return kept


class PostgresFts:
    # ts_rank_cd's weights for D, C, B, A: the problem (A) counts double.
    _RELATIVE = OTHER_WEIGHT / PROBLEM_WEIGHT
    _WEIGHTS = f"'{{{_RELATIVE}, {_RELATIVE}, {_RELATIVE}, 1.0}}'"

    async def put(self, tx: AsyncSession, doc_id: int, fields: SearchFields) -> None:
        await tx.execute(
            text(
                "UPDATE resolved_work SET search_vector = "
                "setweight(to_tsvector('simple', :problem), 'A') || "
                "setweight(to_tsvector('simple', :facts), 'B') || "
                "setweight(to_tsvector('simple', :fixes), 'C') || "
                "setweight(to_tsvector('simple', :resolution), 'D') WHERE id = :id"
            ),
            {"id": doc_id, **fields.__dict__},
        )

    async def remove(self, tx: AsyncSession, doc_ids: list[int]) -> None:
        return None  # the vector is a column of the row, gone with it

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        if not terms:
            return []
        rows = await db.execute(
            text(
                "SELECT id FROM resolved_work, to_tsquery('simple', :query) AS q "
                "WHERE account_id = :account_id AND search_vector @@ q "
                f"ORDER BY ts_rank_cd({self._WEIGHTS}, search_vector, q, 1) DESC, id "
                "LIMIT :limit"
            ),
            {"query": _or_query(terms, " | "), "account_id": account_id, "limit": limit},
        )
        return [row[0] for row in rows]
