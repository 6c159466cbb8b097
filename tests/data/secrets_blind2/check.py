#!/usr/bin/env python3
"""Validate the blind2 redaction corpus (secrets.jsonl + benign.jsonl).

Checks: valid JSON per line, required fields, id format and uniqueness,
known categories, every listed secret occurs verbatim in its text, no
duplicate secrets within an entry, and no listed secret leaks into a
benign text. Prints per-category counts. Exit status 1 on any error.

Run from the repository root:  python3 tests/data/secrets_blind2/check.py
"""

import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SECRET_CATEGORIES = [
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
    "network_devices",
]
BENIGN_CATEGORIES = SECRET_CATEGORIES + ["identifiers", "urls", "logs"]
EXPECTED = {"secrets.jsonl": 220, "benign.jsonl": 160}

errors = []


def err(msg):
    errors.append(msg)


def load(name):
    rows = []
    path = os.path.join(HERE, name)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                err(f"{name}:{n}: blank line")
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                err(f"{name}:{n}: invalid JSON ({e})")
    return rows


secret_rows = load("secrets.jsonl")
benign_rows = load("benign.jsonl")
seen_ids = {}
all_secrets = []

for n, r in secret_rows:
    where = f"secrets.jsonl:{n}"
    if set(r) != {"id", "category", "text", "secrets"}:
        err(f"{where}: fields {sorted(r)} != ['category', 'id', 'secrets', 'text']")
        continue
    cat, rid, text, secrets = r["category"], r["id"], r["text"], r["secrets"]
    if cat not in SECRET_CATEGORIES:
        err(f"{where}: unknown category {cat!r}")
    if not re.fullmatch(re.escape(cat) + r"-\d{3}", rid):
        err(f"{where}: id {rid!r} does not match '<category>-<nnn>'")
    if rid in seen_ids:
        err(f"{where}: duplicate id {rid!r} (also {seen_ids[rid]})")
    seen_ids[rid] = where
    if not isinstance(text, str) or not text.strip():
        err(f"{where}: empty text")
        continue
    if not isinstance(secrets, list) or not secrets:
        err(f"{where}: secrets must be a non-empty list")
        continue
    if len(set(secrets)) != len(secrets):
        err(f"{where}: duplicate values in secrets")
    for s in secrets:
        if not isinstance(s, str) or not s:
            err(f"{where}: empty/non-string secret")
        elif s not in text:
            err(f"{where} ({rid}): secret not verbatim in text: {s[:60]!r}")
        else:
            all_secrets.append((rid, s))

for n, r in benign_rows:
    where = f"benign.jsonl:{n}"
    if set(r) != {"id", "category", "text"}:
        err(f"{where}: fields {sorted(r)} != ['category', 'id', 'text']")
        continue
    cat, rid, text = r["category"], r["id"], r["text"]
    if cat not in BENIGN_CATEGORIES:
        err(f"{where}: unknown category {cat!r}")
    if not re.fullmatch("benign-" + re.escape(cat) + r"-\d{3}", rid):
        err(f"{where}: id {rid!r} does not match 'benign-<category>-<nnn>'")
    if rid in seen_ids:
        err(f"{where}: duplicate id {rid!r} (also {seen_ids[rid]})")
    seen_ids[rid] = where
    if not isinstance(text, str) or not text.strip():
        err(f"{where}: empty text")
        continue
    for sid, s in all_secrets:
        if len(s) >= 8 and s in text:
            err(f"{where} ({rid}): contains secret listed in {sid}: {s[:40]!r}")

for name, rows in (("secrets.jsonl", secret_rows), ("benign.jsonl", benign_rows)):
    if len(rows) != EXPECTED[name]:
        err(f"{name}: {len(rows)} lines, expected {EXPECTED[name]}")

sc = collections.Counter(
    r["category"] for _, r in secret_rows if isinstance(r, dict) and "category" in r
)
bc = collections.Counter(
    r["category"] for _, r in benign_rows if isinstance(r, dict) and "category" in r
)
print(f"{'category':<20} {'secrets':>8} {'benign':>8}")
for c in BENIGN_CATEGORIES:
    print(f"{c:<20} {sc.get(c, 0):>8} {bc.get(c, 0):>8}")
print(f"{'TOTAL':<20} {sum(sc.values()):>8} {sum(bc.values()):>8}")
print(f"secret values listed: {len(all_secrets)}")

if errors:
    print(f"\n{len(errors)} error(s):")
    for e in errors:
        print("  " + e)
    sys.exit(1)
print("OK")
