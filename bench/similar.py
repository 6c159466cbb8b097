"""How well and how fast similar resolved work is found.

Run: .venv/bin/python bench/similar.py [--sizes 10000,100000] [--no-postgres] [--no-sqlite]
     [--quality-only]

Quality, on the evaluation set (tests/data/similar/: 370 resolved tickets in 48 families,
152 queries worded as users write): for each ranking — words alone (the database's full
text), meaning alone (WordLlama embeddings), their reciprocal-rank fusion, and the fusion
with query expansion by a fake LLM answering from a fixed thesaurus — recall@5 (the share
of the top 5 that belong to the query's family, out of min(5, family size): the set's own
definition), hit@5 (a right ticket in the top 5), MRR, and how often a ticket of a
confusable family (same product, different problem) ranks above the first right one.

Speed: search latency (p50, p95 over the 152 queries, after one warm-up query) with 10k
and 100k indexed tickets, made by perturbing the evaluation tickets, on SQLite and, when
reachable, PostgreSQL (FIXPILOT_TEST_PG_URL or postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench.common import percentile  # noqa: E402
from bench.similar_data import ThesaurusLLM, document, load_set, perturbed  # noqa: E402
from plugin.features.search.expansion import clean_terms, expansion_request  # noqa: E402
from plugin.features.search.index import put_documents  # noqa: E402
from plugin.features.search.models import ResolvedWork  # noqa: E402
from plugin.features.search.search import Ranking, SimilarIndex  # noqa: E402
from plugin.kernel.db import Database  # noqa: E402
from plugin.kernel.migrate import upgrade  # noqa: E402
from plugin.kernel.tenancy import Account  # noqa: E402

PG_ADMIN = os.environ.get(
    "FIXPILOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DEPTH = 20  # ranks looked at for MRR and for "confusable above the right one"
BATCH = 2000


async def new_database(backend: str, tmp: Path) -> tuple[Database, str | None]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'similar-{uuid.uuid4().hex[:8]}.db'}"
        await upgrade(url)
        return Database(url), None
    import asyncpg

    name = f"fxbench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    await upgrade(url)
    return Database(url), name


async def drop_pg(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def pg_reachable() -> bool:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"))
    except Exception:
        return False
    await conn.close()
    return True


async def add_account(database: Database, slug: str) -> int:
    async with database.write() as tx:
        account = Account(slug=slug, name=slug, preferences={})
        tx.add(account)
        await tx.flush()
        return account.id


async def index(database: Database, account_id: int, documents: list) -> float:
    started = time.perf_counter()
    for start in range(0, len(documents), BATCH):
        async with database.write() as tx:
            await put_documents(tx, account_id, documents[start : start + BATCH])
    if not database.is_sqlite:
        # What autovacuum does to a live database after a bulk load: fresh statistics.
        async with database.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def scores(ranked: list[int], query: dict, family_of: dict[int, str]) -> dict[str, float]:
    """The query's figures for one ranking (ticket ids, best first)."""
    relevant = {t for t in ranked if family_of.get(t) == query["family"]}
    relevant |= set(query.get("relevant", []))
    family_size = query.get("family_size") or len(query["relevant"])
    top5 = ranked[:5]
    first = next((i for i, doc in enumerate(ranked) if doc in relevant), None)
    confusable = set(query["confusable_families"])
    above = ranked[: first if first is not None else len(ranked)]
    return {
        "recall@5": len(relevant & set(top5)) / min(5, family_size),
        "hit@5": float(bool(relevant & set(top5))),
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "confusable": float(bool(confusable) and any(family_of[d] in confusable for d in above)),
    }


def summary(totals: dict[str, float], n: int) -> str:
    return (
        f"{totals['recall@5'] / n:8.3f} {totals['hit@5'] / n:7.3f} "
        f"{totals['mrr'] / n:7.3f}   {totals['confusable'] / n:6.1%}"
    )


async def tickets_by_row(db, account_id: int) -> dict[int, int]:
    rows = await db.execute(
        select(ResolvedWork.id, ResolvedWork.psa_ticket_id).where(
            ResolvedWork.account_id == account_id
        )
    )
    return dict(rows.all())


async def quality(database: Database, account_id: int, tickets, queries, label: str) -> None:
    async with database.read() as db:
        ids = await tickets_by_row(db, account_id)
    family_of = {t["id"]: t["family"] for t in tickets}
    fake = ThesaurusLLM()
    expansions = {
        q["id"]: clean_terms((await fake.generate(expansion_request(q["text"]))).text)
        for q in queries
    }
    default, sharper = SimilarIndex(), SimilarIndex(rrf_k=10)
    rows = [
        ("text", Ranking.TEXT, False, default),
        ("meaning", Ranking.MEANING, False, default),
        ("fusion", Ranking.FUSION, False, default),
        ("fusion, RRF k=10", Ranking.FUSION, False, sharper),
        ("text + fake LLM expansion", Ranking.TEXT, True, default),
        ("fusion + fake LLM expansion", Ranking.FUSION, True, default),
    ]
    print(f"\nquality on {label} ({len(tickets)} tickets, {len(queries)} queries)")
    print(f"  {'ranking':30} recall@5   hit@5     MRR   confusable above right")
    async with database.read() as db:
        for name, ranking, expand, searcher in rows:
            totals: dict[str, float] = {}
            for q in queries:
                found = await searcher.search_ids(
                    db, account_id, q["text"], ranking=ranking, limit=DEPTH,
                    expansion=expansions[q["id"]] if expand else "",
                )  # fmt: skip
                for key, value in scores([ids[i] for i in found], q, family_of).items():
                    totals[key] = totals.get(key, 0.0) + value
            print(f"  {name:30} {summary(totals, len(queries))}")


async def latency(
    database: Database, account_id: int, queries, size: int, label: str, family_of: dict
) -> None:
    """Wall-clock and CPU time per search (the machine's load average beside them: other
    work on the machine inflates the wall clock), and the fusion's figures at this size."""
    searcher = SimilarIndex()
    sizes = Counter(family_of.values())
    async with database.read() as db:
        ticket_of = await tickets_by_row(db, account_id)
        started = time.perf_counter()
        await searcher.search_ids(db, account_id, "warm up", ranking=Ranking.MEANING)
        load = time.perf_counter() - started
        print(
            f"  {label} {size:>7,} tickets (vectors loaded in {load * 1000:,.0f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
        for ranking in Ranking:
            wall, cpu, totals = [], [], {}
            for q in queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                found = await searcher.search_ids(
                    db, account_id, q["text"], ranking=ranking, limit=DEPTH
                )
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                query = {**q, "relevant": [], "family_size": sizes[q["family"]]}
                ranked = [ticket_of[i] for i in found]
                for key, value in scores(ranked, query, family_of).items():
                    totals[key] = totals.get(key, 0.0) + value
            print(
                f"    {ranking.value:8} p50 {percentile(wall, 50):6.1f} ms  "
                f"p95 {percentile(wall, 95):6.1f} ms   (this process's CPU: p50 "
                f"{percentile(cpu, 50):5.1f}, p95 {percentile(cpu, 95):5.1f} ms)   "
                f"top 5: {summary(totals, len(queries))}"
            )


async def run_backend(backend: str, sizes: list[int], tickets, queries, tmp: Path) -> None:
    database, pg_name = await new_database(backend, tmp)
    try:
        account_id = await add_account(database, "eval")
        await index(database, account_id, [document(t) for t in tickets])
        await quality(database, account_id, tickets, queries, f"{backend}")
        if not sizes:
            return
        large = await add_account(database, "large")
        print(f"\nsearch latency on {backend}")
        indexed, family_of = 0, {}
        for size in sizes:
            documents, families = perturbed(tickets, size - indexed, 100_000 + indexed)
            family_of.update(families)
            seconds = await index(database, large, documents)
            print(f"  (indexed {size - indexed:,} more in {seconds:,.0f} s)")
            indexed = size
            await latency(database, large, queries, size, backend, family_of)
    finally:
        await database.dispose()
        if pg_name:
            await drop_pg(pg_name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--quality-only", action="store_true", help="skip the latency runs")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tickets, queries = load_set()
    from plugin.kernel.logging import configure_logging

    configure_logging("console", "warning")
    backends = [] if args.no_sqlite else ["sqlite"]
    if not args.no_postgres and await pg_reachable():
        backends.append("postgresql")
    elif not args.no_postgres:
        print("PostgreSQL is not reachable: SQLite only")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            await run_backend(
                backend, [] if args.quality_only else sizes, tickets, queries, Path(tmp)
            )


if __name__ == "__main__":
    asyncio.run(main())
