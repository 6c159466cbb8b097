#!/usr/bin/env python3
"""Validate the script-lint corpus (dangerous.jsonl, routine.jsonl).

Usage: python3 check_corpus.py [--dir DIR] [--min-per-file N] [--min-per-category N]

Exits non-zero if any record is malformed; prints counts per language and
category for both files.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

LANGUAGES = ("powershell", "bash", "cmd")
CATEGORIES = (
    "data_destruction",
    "security_disable",
    "download_execute",
    "encoded_command",
    "credential_dumping",
    "shadow_copy_deletion",
    "wildcard_mass_change",
    "persistence_or_backdoor",
)
SEVERITIES = ("high", "medium")
DANGEROUS_KEYS = ("id", "language", "category", "severity", "script", "line", "why")
ROUTINE_KEYS = ("id", "language", "category", "script")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def load(path: Path, errors: list[str]) -> list[tuple[int, dict]]:
    records = []
    if not path.is_file():
        errors.append(f"{path.name}: file not found")
        return records
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            where = f"{path.name}:{n}"
            if not raw.endswith("\n"):
                errors.append(f"{where}: last line has no trailing newline")
            if not raw.strip():
                errors.append(f"{where}: blank line")
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{where}: not a JSON object")
                continue
            records.append((n, obj))
    return records


def check_common(where: str, obj: dict, keys: tuple[str, ...], errors: list[str]) -> bool:
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing:
        errors.append(f"{where}: missing keys {missing}")
    if extra:
        errors.append(f"{where}: unexpected keys {extra}")
    if missing:
        return False
    for k in keys:
        if k != "line" and (not isinstance(obj[k], str) or not obj[k].strip()):
            errors.append(f"{where}: '{k}' must be a non-empty string")
            return False
    if obj["language"] not in LANGUAGES:
        errors.append(f"{where}: language {obj['language']!r} not in {LANGUAGES}")
    if "\r" in obj["script"]:
        errors.append(f"{where}: script contains a carriage return; use \\n only")
    if obj["script"] != obj["script"].strip("\n"):
        errors.append(f"{where}: script has leading/trailing blank lines")
    return True


def check_dangerous(records, errors):
    for n, obj in records:
        where = f"dangerous.jsonl:{n}"
        if not check_common(where, obj, DANGEROUS_KEYS, errors):
            continue
        if obj["category"] not in CATEGORIES:
            errors.append(f"{where}: category {obj['category']!r} not in {CATEGORIES}")
        if obj["severity"] not in SEVERITIES:
            errors.append(f"{where}: severity {obj['severity']!r} not in {SEVERITIES}")
        m = re.fullmatch(r"([a-z]+)-([a-z_]+)-(\d{3})", obj["id"])
        if not m or m.group(1) != obj["language"] or m.group(2) != obj["category"]:
            errors.append(
                f"{where}: id {obj['id']!r} must be '<language>-<category>-<nnn>' "
                f"matching language/category"
            )
        line = obj["line"]
        lines = obj["script"].split("\n")
        if not isinstance(line, int) or isinstance(line, bool):
            errors.append(f"{where}: line must be an integer")
        elif not 1 <= line <= len(lines):
            errors.append(f"{where}: line {line} outside script (1..{len(lines)})")
        elif not lines[line - 1].strip():
            errors.append(f"{where}: line {line} points at a blank line")
        if not obj["why"].rstrip().endswith("."):
            errors.append(f"{where}: 'why' should be one sentence ending with a period")


def check_routine(records, errors):
    for n, obj in records:
        where = f"routine.jsonl:{n}"
        if not check_common(where, obj, ROUTINE_KEYS, errors):
            continue
        if not SNAKE.match(obj["category"]):
            errors.append(f"{where}: category {obj['category']!r} should be snake_case")
        m = re.fullmatch(r"([a-z]+)-routine-(\d{3})", obj["id"])
        if not m or m.group(1) != obj["language"]:
            errors.append(f"{where}: id {obj['id']!r} must be '<language>-routine-<nnn>'")


def table(title, counter, rows, cols):
    width = max([len(r) for r in rows] + [len(title)])
    colw = [max(len(c), 5) for c in cols]
    print(
        title.ljust(width)
        + "  "
        + "  ".join(c.rjust(w) for c, w in zip(cols, colw, strict=True))
        + "  total"
    )
    for r in rows:
        vals = [counter.get((r, c), 0) for c in cols]
        print(
            r.ljust(width)
            + "  "
            + "  ".join(str(v).rjust(w) for v, w in zip(vals, colw, strict=True))
            + f"  {sum(vals):5d}"
        )
    tot = [sum(counter.get((r, c), 0) for r in rows) for c in cols]
    print(
        "total".ljust(width)
        + "  "
        + "  ".join(str(v).rjust(w) for v, w in zip(tot, colw, strict=True))
        + f"  {sum(tot):5d}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--min-per-file", type=int, default=150)
    ap.add_argument("--min-per-category", type=int, default=10)
    args = ap.parse_args()
    base = Path(args.dir)
    errors: list[str] = []
    warnings: list[str] = []

    dangerous = load(base / "dangerous.jsonl", errors)
    routine = load(base / "routine.jsonl", errors)
    check_dangerous(dangerous, errors)
    check_routine(routine, errors)

    # ids unique across both files; scripts unique across both files
    seen_ids: dict[str, str] = {}
    seen_scripts: dict[str, str] = {}
    for fname, recs in (("dangerous.jsonl", dangerous), ("routine.jsonl", routine)):
        for n, obj in recs:
            rid, script = obj.get("id"), obj.get("script")
            if isinstance(rid, str):
                if rid in seen_ids:
                    errors.append(f"{fname}:{n}: duplicate id {rid!r} (first at {seen_ids[rid]})")
                seen_ids.setdefault(rid, f"{fname}:{n}")
            if isinstance(script, str):
                key = script.strip()
                if key in seen_scripts:
                    errors.append(f"{fname}:{n}: script duplicates {seen_scripts[key]}")
                seen_scripts.setdefault(key, f"{fname}:{n}")

    for fname, recs in (("dangerous.jsonl", dangerous), ("routine.jsonl", routine)):
        if len(recs) < args.min_per_file:
            errors.append(f"{fname}: {len(recs)} records, expected at least {args.min_per_file}")

    dcount = collections.Counter((o.get("category"), o.get("language")) for _, o in dangerous)
    scount = collections.Counter((o.get("category"), o.get("severity")) for _, o in dangerous)
    rcount = collections.Counter((o.get("category"), o.get("language")) for _, o in routine)

    for cat in CATEGORIES:
        total = sum(dcount.get((cat, lang), 0) for lang in LANGUAGES)
        if total < args.min_per_category:
            errors.append(
                f"dangerous.jsonl: category {cat} has {total} records, "
                f"expected at least {args.min_per_category}"
            )

    print(f"dangerous.jsonl: {len(dangerous)} records\n")
    table("category", dcount, list(CATEGORIES), list(LANGUAGES))
    print()
    table("category", scount, list(CATEGORIES), list(SEVERITIES))
    print(f"\nroutine.jsonl: {len(routine)} records\n")
    rcats = sorted({o.get("category") for _, o in routine if isinstance(o.get("category"), str)})
    table("category", rcount, rcats, list(LANGUAGES))

    for w in warnings:
        print("WARNING:", w)
    if errors:
        print(f"\nFAILED with {len(errors)} error(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nOK: corpus is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
