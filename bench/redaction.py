"""Redaction, measured: recall and false positives on the secrets corpus, and time per
100 kB on pathological input (it runs on the event loop before every LLM call and note, so it
must stay linear).

Run: .venv/bin/python bench/redaction.py [--corpus DIR] [-v]
`--corpus` measures another corpus of the same format (e.g. tests/data/secrets_holdout);
`-v` lists every miss and false positive.

A secret counts as kept out when neither it nor any fragment of it (the longer of 5
characters and 60 % of it) appears in the output more often than in the text around it.
A benign snippet is a false positive when redaction changes it at all.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.kernel.redaction import redact_text  # noqa: E402

PATHOLOGICAL = {
    "a.a.a.…": "a.",
    "word+word…": "ab+",
    "scheme://…": "http://",
    "psexec psexec …": "psexec ",
    "password is …": "password is ",
    "key=key=…": "key=",
    "user:pass:…": "a:b",
    "base64 run": "QUJD",
    "quotes '\"…": "'\"",
    "prose": "The spooler stops after the update; the user reset her password. ",
    "BEGIN blocks": "-----BEGIN K-----\n",
    "cookies": "Cookie: a=b; ",
    "backup codes": "backup codes: 1234 ",
    "i.e. …": "password i.e. ",
    "log in as …": "log in as a with ",
    "repeated secret": "pw: Kx9#mm2 ",
    "seed words": "abandon ",
    "keyword lines": "password x\n",
    "radius blocks": "radius server a\n key b\n",
    "base64 blob": "MIIK" * 60 + " ",
}


def load(directory: Path, name: str) -> list[dict]:
    with (directory / f"{name}.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def leaked(secret: str, original: str, redacted: str, secrets: list[str]) -> bool:
    if secret in redacted:
        return True
    size = max(5, -(-len(secret) * 6 // 10))
    if len(secret) < size:
        return False
    around = original
    for other in sorted(secrets, key=len, reverse=True):
        around = around.replace(other, "\0")
    return any(
        redacted.count(secret[i : i + size]) > around.count(secret[i : i + size])
        for i in range(len(secret) - size + 1)
    )


def measure(directory: Path, verbose: bool) -> tuple[float, float]:
    secrets, benign = load(directory, "secrets"), load(directory, "benign")
    total, missed = collections.Counter(), collections.Counter()
    for item in secrets:
        redacted = redact_text(item["text"])
        for secret in item["secrets"]:
            total[item["category"]] += 1
            if leaked(secret, item["text"], redacted, item["secrets"]):
                missed[item["category"]] += 1
                if verbose:
                    print(f"  MISS {item['id']}: {secret[:60]!r}")
    changed = [b for b in benign if redact_text(b["text"]) != b["text"]]
    if verbose:
        for item in changed:
            print(f"  FALSE POSITIVE {item['id']}: {redact_text(item['text'])[:120]!r}")
    kept = sum(total.values()) - sum(missed.values())
    recall = kept / sum(total.values())
    false_positives = len(changed) / len(benign)
    print(f"corpus {directory.relative_to(ROOT)}")
    print(f"  recall {recall:.3f} ({kept}/{sum(total.values())} secrets kept out)")
    print(f"  false positives {false_positives:.3f} ({len(changed)}/{len(benign)} benign changed)")
    for category in sorted(total):
        kept_here = total[category] - missed[category]
        print(f"    {category:18} {kept_here:3}/{total[category]:3}")
    return recall, false_positives


def seconds(text: str, runs: int = 3) -> float:
    """The best of a few runs: the machine is shared, the slowest run measures the others."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        redact_text(text)
        best = min(best, time.perf_counter() - started)
    return best


def linearity() -> None:
    small, large = 20_000, 100_000
    print(f"time on {small:,} and {large:,} characters (linear: about x5)")
    for name, unit in PATHOLOGICAL.items():
        a = seconds(unit * (small // len(unit)))
        b = seconds(unit * (large // len(unit)))
        print(f"  {name:18} {a * 1000:8.1f} ms  {b * 1000:8.1f} ms   x{b / a:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "secrets")
    parser.add_argument("-v", action="store_true")
    args = parser.parse_args()
    measure(args.corpus.resolve(), args.v)
    linearity()


if __name__ == "__main__":
    main()
