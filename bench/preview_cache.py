"""Preview cache: what a cached preview costs next to drafting one, and the LRU's memory.

Run: .venv/bin/python bench/preview_cache.py
Prints the median latency of a cold preview (offline composer: the cheapest possible draft;
an LLM draft costs seconds), an LRU hit, and a table hit from a fresh instance, as ratios
measured in this one run, and the LRU's memory at its 5,000-entry cap; then the process's
memory after 50,000 distinct previews went through the cache (issue 15: within 60 MB of the
start), with documents the size of the real previews drafted above and, as a worst case,
8 kB ones.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, served_app  # noqa: E402
from plugin.features.notes.cache import PREVIEW_CACHE, CachedDocument, PreviewCache  # noqa: E402

SESSIONS = 60


async def main() -> None:
    async with served_app() as (client, headers, url):
        ids = []
        for i in range(SESSIONS):
            s = await (
                await client.post(
                    "/api/v1/ai-sessions", json={"title": f"Ticket {i}"}, headers=headers
                )
            ).json()
            for j in range(5):
                await client.post(
                    f"/api/v1/ai-sessions/{s['id']}/facts",
                    json={"text": f"fact {j} " * 20},
                    headers=headers,
                )
            ids.append(s["id"])

        async def timed(sid: int) -> tuple[float, bool]:
            with Timer() as t:
                body = await (
                    await client.post(
                        f"/api/v1/ai-sessions/{sid}/escalation-package/preview", headers=headers
                    )
                ).json()
            return t.ms, body["from_cache"]

        sizes = []
        for sid in ids[:5]:
            body = await (
                await client.post(
                    f"/api/v1/ai-sessions/{sid}/escalation-package/preview", headers=headers
                )
            ).json()
            sizes.append(len(body["markdown"].encode()))
        client.app[PREVIEW_CACHE]._lru.clear()
        cold = [await timed(sid) for sid in ids[5:]]
        warm = [await timed(sid) for sid in ids]
        assert not any(c for _, c in cold) and all(c for _, c in warm[5:])
        client.app[PREVIEW_CACHE]._lru.clear()  # as a fresh replica: the table only
        table = [await timed(sid) for sid in ids]
        baseline = []
        for sid in ids:
            with Timer() as t:
                await client.get(f"/api/v1/ai-sessions/{sid}", headers=headers)
            baseline.append(t.ms)

    cold_ms = statistics.median(t for t, _ in cold)
    warm_ms = statistics.median(t for t, _ in warm)
    table_ms = statistics.median(t for t, _ in table)
    print(f"preview, {SESSIONS} sessions, median request latency (SQLite, offline composer)")
    print(f"  cold (draft + store):  {cold_ms:7.2f} ms   1.00")
    print(f"  LRU hit:               {warm_ms:7.2f} ms   {warm_ms / cold_ms:.2f} of cold")
    print(f"  table hit (new replica): {table_ms:5.2f} ms   {table_ms / cold_ms:.2f} of cold")
    base_ms = statistics.median(baseline)
    print(f"  for scale, GET session:  {base_ms:5.2f} ms   {base_ms / cold_ms:.2f} of cold")

    tracemalloc.start()
    cache = PreviewCache(db=None, cap=5000)  # type: ignore[arg-type]
    doc_text = "## Problem\n" + "x" * 2000
    before = tracemalloc.take_snapshot()
    for i in range(20_000):
        cache.remember(("escalation_package", i, 1), CachedDocument(doc_text + str(i), "offline"))
    after = tracemalloc.take_snapshot()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(
        f"LRU after 20,000 inserts of 2 kB documents: {len(cache)} entries, {grown / 1e6:.1f} MB "
        f"({grown / len(cache) / 2000:.2f}x the document bytes)"
    )

    real = int(statistics.median(sizes))
    for size in (real, 8000):
        grown_rss, grown_py, entries = await _many_previews(50_000, size)
        print(
            f"after 50,000 distinct previews of {size / 1000:.1f} kB: "
            f"RSS +{grown_rss / 1e6:.1f} MB, Python heap +{grown_py / 1e6:.1f} MB "
            f"({entries} kept in the LRU; target: within 60 MB)"
        )


class _TableInMemory(PreviewCache):
    """The cache with its table stood in for (the table is on disk, not in this process)."""

    async def _load(self, key):
        return None

    async def _store(self, key, document):
        return document


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _many_previews(count: int, size: int) -> tuple[int, int, int]:
    """Process memory (RSS, and Python's heap by tracemalloc) after `count` distinct
    previews through get_or_make, next to before."""
    cache = _TableInMemory(db=None)  # type: ignore[arg-type]
    body = "## Escalation package\n" + "x" * size

    async def make(i: int):
        return CachedDocument(f"{i}{body}"[:size], "offline")

    gc.collect()
    rss_before = _rss()
    tracemalloc.start()
    py_before = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        await cache.get_or_make(("escalation_package", i, 1), lambda i=i: make(i))
    gc.collect()
    py_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return _rss() - rss_before, py_after - py_before, len(cache)


if __name__ == "__main__":
    asyncio.run(main())
