"""Validate the secret-detector corpus in this folder.

Usage: python tests/data/secrets/check_corpus.py

Checks that every line is a JSON object of the documented shape, ids are unique and follow
the naming scheme, every listed secret occurs verbatim in its text, no benign text contains a
secret from secrets.jsonl, texts are not duplicated, and the minimum counts are met. Prints
the counts per category; exits non-zero on any problem.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_CATEGORIES = {
    "windows_cmd",
    "powershell",
    "unix_cli",
    "config",
    "connection_string",
    "url_credentials",
    "cloud_keys",
    "private_keys",
    "recovery_codes",
    "prose",
}
MIN_SECRETS, MIN_BENIGN, MIN_PER_CATEGORY = 420, 260, 20
CROSS_CHECK_MIN_LEN = 8  # shorter secrets (PINs, "1234") may legitimately appear in benign text


def load(name, errors):
    rows = []
    for n, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            errors.append(f"{name}:{n}: blank line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{name}:{n}: invalid JSON ({exc})")
            continue
        if not isinstance(row, dict):
            errors.append(f"{name}:{n}: not a JSON object")
            continue
        rows.append((n, row))
    return rows


def main():
    errors = []
    secrets_rows = load("secrets.jsonl", errors)
    benign_rows = load("benign.jsonl", errors)
    ids, texts = set(), set()
    all_secrets = set()
    secret_counts, benign_counts = Counter(), Counter()

    for n, row in secrets_rows:
        where = f"secrets.jsonl:{n}"
        if set(row) != {"id", "category", "text", "secrets"}:
            errors.append(f"{where}: keys are {sorted(row)}")
            continue
        cat, text, secrets = row["category"], row["text"], row["secrets"]
        if cat not in SECRET_CATEGORIES:
            errors.append(f"{where}: unknown category {cat!r}")
        if not re.fullmatch(rf"{re.escape(str(cat))}-\d{{3}}", str(row["id"])):
            errors.append(f"{where}: id {row['id']!r} does not match '<category>-<nnn>'")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: empty text")
            continue
        if not isinstance(secrets, list) or not secrets:
            errors.append(f"{where}: 'secrets' must be a non-empty list")
            continue
        for s in secrets:
            if not isinstance(s, str) or not s:
                errors.append(f"{where}: empty/non-string secret")
            elif s not in text:
                errors.append(f"{where}: secret {s[:40]!r} not found verbatim in text")
            else:
                all_secrets.add(s)
        if len(set(secrets)) != len(secrets):
            errors.append(f"{where}: duplicate values in 'secrets'")
        if row["id"] in ids:
            errors.append(f"{where}: duplicate id {row['id']}")
        ids.add(row["id"])
        if text in texts:
            errors.append(f"{where}: duplicate text")
        texts.add(text)
        secret_counts[cat] += 1

    long_secrets = [s for s in all_secrets if len(s) >= CROSS_CHECK_MIN_LEN]
    for n, row in benign_rows:
        where = f"benign.jsonl:{n}"
        if set(row) != {"id", "category", "text"}:
            errors.append(f"{where}: keys are {sorted(row)}")
            continue
        cat, text = row["category"], row["text"]
        if not re.fullmatch(rf"benign-{re.escape(str(cat))}-\d{{3}}", str(row["id"])):
            errors.append(f"{where}: id {row['id']!r} does not match 'benign-<category>-<nnn>'")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: empty text")
            continue
        for s in long_secrets:
            if s in text:
                errors.append(f"{where}: contains a secret from secrets.jsonl ({s[:20]!r}...)")
        if row["id"] in ids:
            errors.append(f"{where}: duplicate id {row['id']}")
        ids.add(row["id"])
        if text in texts:
            errors.append(f"{where}: duplicate text")
        texts.add(text)
        benign_counts[cat] += 1

    total_s, total_b = sum(secret_counts.values()), sum(benign_counts.values())
    if total_s < MIN_SECRETS:
        errors.append(f"secrets.jsonl has {total_s} lines, want >= {MIN_SECRETS}")
    if total_b < MIN_BENIGN:
        errors.append(f"benign.jsonl has {total_b} lines, want >= {MIN_BENIGN}")
    for cat in sorted(SECRET_CATEGORIES):
        if secret_counts[cat] < MIN_PER_CATEGORY:
            errors.append(
                f"category {cat} has {secret_counts[cat]} lines, want >= {MIN_PER_CATEGORY}"
            )

    print(
        f"secrets.jsonl: {total_s} lines, {sum(len(r['secrets']) for _, r in secrets_rows if 'secrets' in r)} secret values"
    )
    for cat, c in sorted(secret_counts.items()):
        print(f"  {cat:<18} {c}")
    print(f"benign.jsonl: {total_b} lines")
    for cat, c in sorted(benign_counts.items()):
        print(f"  {cat:<18} {c}")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
