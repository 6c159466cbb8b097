#!/usr/bin/env python3
"""Validate the "similar resolved tickets" evaluation set and print statistics.

Usage:  python tests/data/similar/check_set.py [folder]

Exits non-zero (and lists every problem) if tickets.jsonl / queries.jsonl break
the rules described in README.md. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

TICKET_KEYS = {
    "id": int,
    "family": str,
    "product": str,
    "status": str,
    "summary": str,
    "description": str,
    "facts": list,
    "fixes": list,
    "root_cause": str,
    "resolution": str,
    "closed_days_ago": int,
}
QUERY_KEYS = {"id": str, "text": str, "family": str, "relevant": list, "confusable_families": list}
STATUSES = {"resolved", "escalated"}
OUTCOMES = {"applied_success", "applied_failed", "applied_partial", "applied_pending"}
MIN_TICKETS, MIN_FAMILIES, FAMILY_SIZE = 360, 45, (5, 12)
MIN_QUERIES, MIN_QUERY_FAMILIES = 120, 40
MAX_MEAN_OVERLAP = 0.5  # mean query-vs-relevant-summaries token overlap must stay below
COPY_OVERLAP = 0.9  # a query this close to a single summary counts as a copy

STOPWORDS = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "cant",
        "could",
        "did",
        "do",
        "does",
        "dont",
        "for",
        "from",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "he",
        "her",
        "him",
        "his",
        "how",
        "i",
        "i'm",
        "im",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "it's",
        "just",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "once",
        "or",
        "our",
        "out",
        "she",
        "so",
        "some",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "wont",
        "would",
        "you",
        "your",
        "yours",
        "all",
        "any",
        "also",
        "am",
        "again",
        "after",
        "before",
        "since",
        "about",
        "off",
        "over",
        "only",
        "other",
        "than",
        "these",
        "those",
        "very",
        "like",
        "ok",
        "pls",
        "please",
    ]
)


def tokens(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOPWORDS or len(w) < 2:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]  # crude plural folding: makes the overlap figure conservative
        out.append(w)
    return out


def load(path: Path, errors: list[str]) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name}:{n}: bad JSON ({exc})")
    return rows


def check_keys(row: dict, spec: dict, where: str, errors: list[str]) -> None:
    for key, typ in spec.items():
        if key not in row:
            errors.append(f"{where}: missing key {key!r}")
        elif not isinstance(row[key], typ) or (typ is int and isinstance(row[key], bool)):
            errors.append(f"{where}: {key!r} should be {typ.__name__}")
        elif typ is str and not row[key].strip():
            errors.append(f"{where}: {key!r} is empty")


def check_tickets(tickets: list[dict], errors: list[str]) -> dict[str, list[dict]]:
    seen: set[int] = set()
    by_family: dict[str, list[dict]] = defaultdict(list)
    for t in tickets:
        where = f"ticket {t.get('id')}"
        check_keys(t, TICKET_KEYS, where, errors)
        tid = t.get("id")
        if tid in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(tid)
        if isinstance(tid, int) and not 1 <= tid <= 99999:
            errors.append(f"{where}: id out of range")
        if t.get("status") not in STATUSES:
            errors.append(f"{where}: bad status {t.get('status')!r}")
        days = t.get("closed_days_ago")
        if isinstance(days, int) and not 1 <= days <= 400:
            errors.append(f"{where}: closed_days_ago out of 1..400")
        facts = t.get("facts") or []
        if not facts or not all(isinstance(f, str) and f.strip() for f in facts):
            errors.append(f"{where}: facts must be a non-empty list of strings")
        fixes = t.get("fixes") or []
        if not fixes:
            errors.append(f"{where}: no fixes")
        for fx in fixes:
            if not isinstance(fx, dict) or not str(fx.get("title", "")).strip():
                errors.append(f"{where}: fix without title")
            elif fx.get("outcome") not in OUTCOMES:
                errors.append(f"{where}: bad fix outcome {fx.get('outcome')!r}")
            elif "notes" in fx and not isinstance(fx["notes"], str):
                errors.append(f"{where}: fix notes must be a string")
        outcomes = [fx.get("outcome") for fx in fixes if isinstance(fx, dict)]
        if t.get("status") == "resolved" and "applied_success" not in outcomes:
            errors.append(f"{where}: resolved but no applied_success fix")
        if t.get("status") == "escalated" and "applied_success" in outcomes:
            errors.append(f"{where}: escalated but has an applied_success fix")
        if isinstance(t.get("family"), str):
            by_family[t["family"]].append(t)
    summaries = Counter(t.get("summary", "").strip().lower() for t in tickets)
    for s, c in summaries.items():
        if c > 1:
            errors.append(f"summary used {c} times: {s!r}")
    lo, hi = FAMILY_SIZE
    for fam, rows in by_family.items():
        if not lo <= len(rows) <= hi:
            errors.append(f"family {fam}: {len(rows)} tickets (want {lo}-{hi})")
    if len(tickets) < MIN_TICKETS:
        errors.append(f"only {len(tickets)} tickets (want >= {MIN_TICKETS})")
    if len(by_family) < MIN_FAMILIES:
        errors.append(f"only {len(by_family)} families (want >= {MIN_FAMILIES})")
    return by_family


def check_queries(
    queries: list[dict], tickets: list[dict], by_family: dict[str, list[dict]], errors: list[str]
) -> None:
    ids = {t.get("id"): t for t in tickets}
    seen: set[str] = set()
    texts: set[str] = set()
    for q in queries:
        where = f"query {q.get('id')}"
        check_keys(q, QUERY_KEYS, where, errors)
        if q.get("id") in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(q.get("id"))
        text = str(q.get("text", "")).strip().lower()
        if text in texts:
            errors.append(f"{where}: duplicate text")
        texts.add(text)
        fam = q.get("family")
        if fam not in by_family:
            errors.append(f"{where}: unknown family {fam!r}")
            continue
        rel = q.get("relevant") or []
        for rid in rel:
            if rid not in ids:
                errors.append(f"{where}: relevant id {rid} not in tickets.jsonl")
            elif ids[rid].get("family") != fam:
                errors.append(f"{where}: relevant id {rid} is family {ids[rid].get('family')}")
        expected = {t["id"] for t in by_family[fam]}
        if set(rel) != expected:
            errors.append(f"{where}: relevant must list all {len(expected)} tickets of {fam}")
        if len(rel) != len(set(rel)):
            errors.append(f"{where}: duplicate relevant ids")
        for cf in q.get("confusable_families") or []:
            if cf == fam:
                errors.append(f"{where}: own family listed as confusable")
            elif cf not in by_family:
                errors.append(f"{where}: unknown confusable family {cf!r}")
        for t in tickets:
            s = t.get("summary", "").strip().lower()
            if text and (text == s or (len(s) > 15 and s in text)):
                errors.append(f"{where}: text copies the title of ticket {t.get('id')}")
    fams = {q.get("family") for q in queries}
    if len(queries) < MIN_QUERIES:
        errors.append(f"only {len(queries)} queries (want >= {MIN_QUERIES})")
    if len(fams) < MIN_QUERY_FAMILIES:
        errors.append(f"queries cover {len(fams)} families (want >= {MIN_QUERY_FAMILIES})")


def overlap_stats(queries, tickets, by_family, errors):
    """Fraction of a query's content words found in (a) the union of its relevant
    tickets' summaries, (b) the single most similar relevant summary, (c) the most
    similar relevant summary+description."""
    union_f, best_f, best_desc_f, conf_f = [], [], [], []
    for q in queries:
        fam = q.get("family")
        qt = set(tokens(q.get("text", "")))
        if fam not in by_family or not qt:
            continue
        rel = by_family[fam]
        sums = [set(tokens(t["summary"])) for t in rel]
        union = set().union(*sums)
        union_f.append(len(qt & union) / len(qt))
        best = max(len(qt & s) / len(qt) for s in sums)
        best_f.append(best)
        if best >= COPY_OVERLAP and len(qt) >= 3:
            errors.append(f"query {q.get('id')}: {best:.0%} of its words are one ticket title")
        best_desc_f.append(
            max(len(qt & set(tokens(t["summary"] + " " + t["description"]))) / len(qt) for t in rel)
        )
        conf = [t for cf in q.get("confusable_families") or [] for t in by_family.get(cf, [])]
        if conf:
            cu = set().union(*(set(tokens(t["summary"])) for t in conf))
            conf_f.append(len(qt & cu) / len(qt))
    mean = sum(union_f) / max(len(union_f), 1)
    if mean >= MAX_MEAN_OVERLAP:
        errors.append(f"mean query/summary overlap {mean:.2f} >= {MAX_MEAN_OVERLAP}")
    avg = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
    return {
        "union": mean,
        "best_single": avg(best_f),
        "best_summary_desc": avg(best_desc_f),
        "confusable_union": avg(conf_f),
        "n": len(union_f),
    }


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    errors: list[str] = []
    tickets = load(folder / "tickets.jsonl", errors)
    queries = load(folder / "queries.jsonl", errors)
    by_family = check_tickets(tickets, errors)
    check_queries(queries, tickets, by_family, errors)
    stats = overlap_stats(queries, tickets, by_family, errors)

    status = Counter(t.get("status") for t in tickets)
    with_failed = sum(
        1 for t in tickets if any(f.get("outcome") != "applied_success" for f in t.get("fixes", []))
    )
    products = Counter(t.get("product") for t in tickets)
    qfam = Counter(q.get("family") for q in queries)
    sizes = sorted(len(v) for v in by_family.values())
    print(f"tickets: {len(tickets)}  ({dict(status)}; {with_failed} with a non-successful attempt)")
    print(f"families: {len(by_family)}  (sizes {sizes[0]}-{sizes[-1]}), products: {len(products)}")
    print(
        f"queries: {len(queries)} covering {len(qfam)} families; "
        f"{sum(1 for q in queries if q.get('confusable_families'))} with confusable families"
    )
    lens = sorted(len(q.get("text", "").split()) for q in queries)
    print(f"query length (words): min {lens[0]}, median {lens[len(lens) // 2]}, max {lens[-1]}")
    print("token overlap (content words, stopwords removed, plurals folded):")
    print(f"  query vs union of relevant summaries   : {stats['union']:.3f}   <- keep well < 0.5")
    print(f"  query vs best single relevant summary  : {stats['best_single']:.3f}")
    print(f"  query vs best relevant summary+descr.  : {stats['best_summary_desc']:.3f}")
    print(f"  query vs union of confusable summaries : {stats['confusable_union']:.3f}")
    if errors:
        print(f"\nFAILED with {len(errors)} problem(s):")
        for e in errors:
            print("  -", e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
