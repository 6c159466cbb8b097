#!/usr/bin/env python3
"""Validate the secrets holdout corpus (secrets.jsonl, benign.jsonl).

Checks:
  * every line is a JSON object with the expected keys and types
  * ids are unique across both files and follow <category>-<nnn> /
    benign-<category>-<nnn>
  * secret categories are the agreed set and meet the minimum counts
  * every listed secret is a non-empty string occurring verbatim in its text
  * no benign text contains any listed secret (substring match)
  * no text is duplicated

Exit status 0 when everything passes, 1 otherwise.
Usage: python3 check.py [-v] [directory]   (defaults to this file's directory;
       -v lists warnings about very short secrets)
"""

import json
import os
import re
import sys
from collections import Counter

SECRET_MINIMUMS = {
    "windows_cmd": 20,
    "powershell": 20,
    "unix_cli": 20,
    "config": 20,
    "connection_string": 20,
    "url_credentials": 20,
    "cloud_keys": 20,
    "private_keys": 20,
    "recovery_codes": 20,
    "prose": 40,
}
MIN_SECRETS_TOTAL = 250
MIN_BENIGN_TOTAL = 150


def load(path, errors):
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                errors.append(f"{os.path.basename(path)}:{n}: blank line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{os.path.basename(path)}:{n}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{os.path.basename(path)}:{n}: not an object")
                continue
            obj["_line"] = n
            rows.append(obj)
    return rows


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    base = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    errors, warnings = [], []
    secrets = load(os.path.join(base, "secrets.jsonl"), errors)
    benign = load(os.path.join(base, "benign.jsonl"), errors)

    ids = Counter()
    texts = Counter()
    all_secrets = {}  # secret -> first id listing it

    for r in secrets:
        where = f"secrets.jsonl:{r['_line']}"
        keys = set(r) - {"_line"}
        if keys != {"id", "category", "text", "secrets"}:
            errors.append(f"{where}: unexpected keys {sorted(keys)}")
            continue
        rid, cat, text, secs = r["id"], r["category"], r["text"], r["secrets"]
        if cat not in SECRET_MINIMUMS:
            errors.append(f"{where}: unknown category {cat!r}")
        if not re.fullmatch(re.escape(cat) + r"-\d{3}", str(rid)):
            errors.append(f"{where}: id {rid!r} does not match {cat}-nnn")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: empty text")
            continue
        if not isinstance(secs, list) or not secs:
            errors.append(f"{where}: secrets must be a non-empty list")
            continue
        for s in secs:
            if not isinstance(s, str) or not s:
                errors.append(f"{where}: secret {s!r} is not a non-empty string")
            elif s not in text:
                errors.append(f"{where} ({rid}): secret {s!r} not found verbatim in text")
            else:
                all_secrets.setdefault(s, rid)
                if len(s) < 6:
                    warnings.append(f"{rid}: short secret {s!r} ({len(s)} chars)")
        if len(set(secs)) != len(secs):
            errors.append(f"{where}: duplicate entries in secrets list")
        ids[rid] += 1
        texts[text] += 1

    for r in benign:
        where = f"benign.jsonl:{r['_line']}"
        keys = set(r) - {"_line"}
        if keys != {"id", "category", "text"}:
            errors.append(f"{where}: unexpected keys {sorted(keys)}")
            continue
        rid, cat, text = r["id"], r["category"], r["text"]
        if not re.fullmatch(r"benign-" + re.escape(str(cat)) + r"-\d{3}", str(rid)):
            errors.append(f"{where}: id {rid!r} does not match benign-{cat}-nnn")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: empty text")
            continue
        for s, owner in all_secrets.items():
            if s in text:
                errors.append(f"{where} ({rid}): contains secret {s!r} listed in {owner}")
        ids[rid] += 1
        texts[text] += 1

    for rid, n in ids.items():
        if n > 1:
            errors.append(f"duplicate id {rid} ({n}x)")
    for t, n in texts.items():
        if n > 1:
            errors.append(f"duplicate text ({n}x): {t[:60]!r}")

    cats = Counter(r.get("category") for r in secrets)
    for cat, minimum in SECRET_MINIMUMS.items():
        if cats[cat] < minimum:
            errors.append(f"category {cat}: {cats[cat]} entries, need >= {minimum}")
    if len(secrets) < MIN_SECRETS_TOTAL:
        errors.append(f"secrets.jsonl: {len(secrets)} lines, need >= {MIN_SECRETS_TOTAL}")
    if len(benign) < MIN_BENIGN_TOTAL:
        errors.append(f"benign.jsonl: {len(benign)} lines, need >= {MIN_BENIGN_TOTAL}")

    bcats = Counter(r.get("category") for r in benign)
    print(
        f"secrets.jsonl: {len(secrets)} entries, {sum(len(r.get('secrets', [])) for r in secrets)} secret values"
    )
    for cat in SECRET_MINIMUMS:
        print(f"  {cat:18} {cats[cat]}")
    print(f"benign.jsonl: {len(benign)} entries")
    for cat, n in sorted(bcats.items()):
        print(f"  {cat:18} {n}")
    if warnings and "-v" in sys.argv:
        print(f"{len(warnings)} warnings:")
        for w in warnings:
            print("  WARN", w)
    elif warnings:
        print(f"{len(warnings)} warnings (short secrets; run with -v to list)")
    if errors:
        print(f"FAILED: {len(errors)} error(s)")
        for e in errors:
            print("  ERROR", e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
