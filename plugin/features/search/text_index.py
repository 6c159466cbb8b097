"""Full-text ranking of the similar-work index, with what each database already has: SQLite
FTS5 (bm25) and PostgreSQL full-text search (tsvector, ts_rank, a GIN index).

Both index the same pre-computed terms (`terms.py`) in four weighted fields — the problem
as the user told it (summary and description) counts double; facts, fixes and the
resolution count once — so the two backends rank alike. The structures themselves are
created by the search migration.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.models import (
    FTS_TABLE,
    FTS_VOCAB_TABLE,
    SEARCH_TABLE,
    TERMS_TABLE,
)

PROBLEM_WEIGHT, OTHER_WEIGHT = 2.0, 1.0
# Ranking cost grows with the documents a query matches: past this many postings, the
# commonest terms (which add least to a score) are left out of the query. A small index
# never reaches it.
POSTINGS_BUDGET = 20_000
MIN_TERMS = 3
ALL_DOCUMENTS = ""  # the term under which resolved_work_terms counts an account's documents


@dataclass(frozen=True)
class SearchFields:
    """A document's four weighted fields, as term text."""

    problem: str
    facts: str
    fixes: str
    resolution: str


class TextIndex(Protocol):
    async def put(
        self, tx: AsyncSession, account_id: int, entries: list[tuple[int, SearchFields]]
    ) -> None:
        """Index (document id, fields) pairs of the account."""

    async def remove(self, tx: AsyncSession, account_id: int, doc_ids: list[int]) -> None:
        """Forget these documents (call it before their rows are deleted)."""

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        """Document ids of the account, best first."""


def within_budget(document_counts: dict[str, int]) -> list[str]:
    """The terms the index knows, rarest first, while their postings fit the budget."""
    kept, postings = [], 0
    for docs, term in sorted((docs, term) for term, docs in document_counts.items() if docs > 0):
        if len(kept) >= MIN_TERMS and postings + docs > POSTINGS_BUDGET:
            break
        kept.append(term)
        postings += docs
    return kept


def text_index_for(dialect_name: str) -> TextIndex:
    return SqliteFts() if dialect_name == "sqlite" else PostgresFts()


def _or_query(terms: list[str], separator: str) -> str:
    # Terms are [a-z0-9]+ (terms.py), so they need no escaping in either query language.
    return separator.join(terms)


def _account_token(account_id: int) -> str:
    return f"account{int(account_id)}"


def _params(entries: list[tuple[int, SearchFields]]) -> list[dict[str, object]]:
    return [{"id": doc_id, **fields.__dict__} for doc_id, fields in entries]


class SqliteFts:
    """FTS5 with bm25. Each entry carries its account as a token in the `account` column
    (weight 0 in the ranking): the MATCH itself keeps a search in its account, which costs
    half of joining every match to its row."""

    _COLUMNS = "{problem facts fixes resolution}"

    async def put(
        self, tx: AsyncSession, account_id: int, entries: list[tuple[int, SearchFields]]
    ) -> None:
        await tx.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, account, problem, facts, fixes, resolution) "
                "VALUES (:id, :account, :problem, :facts, :fixes, :resolution)"
            ),
            [{**p, "account": _account_token(account_id)} for p in _params(entries)],
        )

    async def remove(self, tx: AsyncSession, account_id: int, doc_ids: list[int]) -> None:
        return None  # a trigger drops the entry with its row (cascades included)

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        terms = await self._within_budget(db, terms)
        if not terms:
            return []
        weights = ", ".join(str(w) for w in (0.0, PROBLEM_WEIGHT, *[OTHER_WEIGHT] * 3))
        query = (
            f"account:{_account_token(account_id)} AND "
            f"{self._COLUMNS}: ({_or_query(terms, ' OR ')})"
        )
        rows = await db.execute(
            text(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :query "
                f"ORDER BY bm25({FTS_TABLE}, {weights}) LIMIT :limit"
            ),
            {"query": query, "limit": limit},
        )
        return [row[0] for row in rows]

    async def _within_budget(self, db: AsyncSession, terms: list[str]) -> list[str]:
        # FTS5's own vocabulary counts documents of every account: close enough for pruning.
        if not terms:
            return []
        params = {f"t{i}": term for i, term in enumerate(terms)}
        placeholders = ", ".join(f":{name}" for name in params)
        rows = await db.execute(
            text(f"SELECT term, doc FROM {FTS_VOCAB_TABLE} WHERE term IN ({placeholders})"),
            params,
        )
        return within_budget(dict(rows.all()))


class PostgresFts:
    """PostgreSQL's rankings know nothing of how common a term is, so each query term is
    ranked on its own (ts_rank, normalised by the log of the document's length) and weighted
    by its rarity (BM25's idf) from `resolved_work_terms`, which counts each account's
    documents per term (and, under the term '', the documents). On the evaluation set this
    ranks as well as SQLite's bm25; ts_rank_cd, with or without the weights, ranked worse
    (figures in the README)."""

    # The weights for D, C, B, A: the problem (A) counts double.
    _RELATIVE = OTHER_WEIGHT / PROBLEM_WEIGHT
    _WEIGHTS = f"'{{{_RELATIVE}, {_RELATIVE}, {_RELATIVE}, 1.0}}'"

    async def put(
        self, tx: AsyncSession, account_id: int, entries: list[tuple[int, SearchFields]]
    ) -> None:
        await tx.execute(
            text(
                f"INSERT INTO {SEARCH_TABLE} (id, account_id, search_vector) VALUES (:id, "
                ":account_id, setweight(to_tsvector('simple', :problem), 'A') || "
                "setweight(to_tsvector('simple', :facts), 'B') || "
                "setweight(to_tsvector('simple', :fixes), 'C') || "
                "setweight(to_tsvector('simple', :resolution), 'D'))"
            ),
            [{**p, "account_id": account_id} for p in _params(entries)],
        )
        counts: Counter[str] = Counter()
        for _, fields in entries:
            counts.update(set(" ".join(fields.__dict__.values()).split()))
        counts[ALL_DOCUMENTS] = len(entries)
        await self._add_counts(tx, account_id, counts)

    async def remove(self, tx: AsyncSession, account_id: int, doc_ids: list[int]) -> None:
        if not doc_ids:
            return  # the vectors go with their rows (cascade): the counts are taken back
        rows = await tx.execute(
            text(
                f"SELECT t, count(*) FROM {SEARCH_TABLE}, "
                "unnest(tsvector_to_array(search_vector)) AS t "
                "WHERE id = ANY(:ids) GROUP BY t"
            ),
            {"ids": doc_ids},
        )
        counts = Counter({term: -docs for term, docs in rows})
        counts[ALL_DOCUMENTS] = -len(doc_ids)
        await self._add_counts(tx, account_id, counts)

    async def _add_counts(self, tx: AsyncSession, account_id: int, counts: Counter[str]) -> None:
        # In term order, so concurrent writers lock the rows in the same order.
        await tx.execute(
            text(
                f"INSERT INTO {TERMS_TABLE} (account_id, term, docs) VALUES (:a, :t, :d) "
                f"ON CONFLICT (account_id, term) DO UPDATE SET docs = {TERMS_TABLE}.docs + "
                "EXCLUDED.docs"
            ),
            [{"a": account_id, "t": t, "d": d} for t, d in sorted(counts.items())],
        )

    async def search(
        self, db: AsyncSession, account_id: int, terms: list[str], limit: int
    ) -> list[int]:
        if not terms:
            return []
        rows = await db.execute(
            text(f"SELECT term, docs FROM {TERMS_TABLE} WHERE account_id = :a AND term = ANY(:t)"),
            {"a": account_id, "t": [*terms, ALL_DOCUMENTS]},
        )
        counts = dict(rows.all())
        total = counts.pop(ALL_DOCUMENTS, 0)
        terms = within_budget(counts)
        if not terms:
            return []
        params: dict[str, object] = {"query": _or_query(terms, " | "), "a": account_id}
        ranks = []
        for i, term in enumerate(terms):
            params[f"t{i}"] = term
            params[f"w{i}"] = math.log(1 + (total - counts[term] + 0.5) / (counts[term] + 0.5))
            ranks.append(
                f"CAST(:w{i} AS float8) * "
                f"ts_rank({self._WEIGHTS}, search_vector, to_tsquery('simple', :t{i}), 1)"
            )
        rows = await db.execute(
            text(
                f"SELECT id FROM {SEARCH_TABLE}, to_tsquery('simple', :query) AS q "
                "WHERE account_id = :a AND search_vector @@ q "
                f"ORDER BY {' + '.join(ranks)} DESC, id LIMIT {int(limit)}"
            ),
            params,
        )
        return [row[0] for row in rows]
