"""Recall and false positives of the dangerous-operation lint on its corpus.

    .venv/bin/python bench/script_lint.py [--verbose]

Recall is per script (any finding in a dangerous script counts, as the corpus README says),
with the share whose finding is within two lines of the line a reviewer would highlight;
false positives are routine scripts with any finding. Both by language and by category.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin.kernel.script_lint import lint_script  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "script_lint"


def load(name: str) -> list[dict]:
    with (CORPUS / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _table(title: str, hits: Counter, totals: Counter) -> None:
    print(f"  {title}")
    for key in sorted(totals):
        print(f"    {key:<28} {hits[key]:>4}/{totals[key]:<4} {hits[key] / totals[key]:7.1%}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    args = parser.parse_args()
    dangerous, routine = load("dangerous.jsonl"), load("routine.jsonl")

    hits, totals, on_line = Counter(), Counter(), 0
    misses = []
    for record in dangerous:
        findings = lint_script(record["script"], record["language"])
        severity = f"severity {record['severity']}"
        for key in ("all", record["language"], record["category"], severity):
            totals[key] += 1
            hits[key] += bool(findings)
        if not findings:
            misses.append(record)
        elif any(abs(f.line - record["line"]) <= 2 for f in findings):
            on_line += 1
    flagged, routine_totals, false_positives = Counter(), Counter(), []
    for record in routine:
        findings = lint_script(record["script"], record["language"])
        for key in ("all", record["language"], record["category"]):
            routine_totals[key] += 1
            flagged[key] += bool(findings)
        if findings:
            false_positives.append((record, findings))

    print(f"dangerous scripts: {len(dangerous)}, routine scripts: {len(routine)}")
    print(f"recall: {hits['all']}/{totals['all']} = {hits['all'] / totals['all']:.1%}")
    print(f"finding within 2 lines of the marked line: {on_line}/{hits['all']}")
    fp = flagged["all"] / routine_totals["all"]
    print(f"false positives: {flagged['all']}/{routine_totals['all']} = {fp:.1%}")
    _table("recall by language, category and severity", hits, totals)
    _table("false positives by language and category", flagged, routine_totals)
    if args.verbose:
        for record in misses:
            print(f"MISS {record['id']} line {record['line']}: {record['why']}")
        for record, findings in false_positives:
            print(f"FALSE POSITIVE {record['id']}: {[(f.rule, f.line) for f in findings]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
