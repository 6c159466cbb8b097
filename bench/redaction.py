"""Redaction runs on the event loop before every LLM call and note: it must stay linear.

Run: .venv/bin/python bench/redaction.py
Prints the time to redact inputs that made the old patterns quadratic, at two sizes, and
the ratio between them (linear: about the ratio of the sizes, 5x here).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.kernel.redaction import redact_text  # noqa: E402

INPUTS = {
    "a.a.a.…": "a.",
    "word+word…": "ab+",
    "scheme://…": "http://",
    "psexec psexec …": "psexec ",
    "prose": "The spooler stops after the update; the user reset her password. ",
}


def seconds(text: str) -> float:
    started = time.perf_counter()
    redact_text(text)
    return time.perf_counter() - started


def main() -> None:
    small, large = 20_000, 100_000
    print(f"redact_text on {small:,} and {large:,} characters")
    for name, unit in INPUTS.items():
        a = seconds(unit * (small // len(unit)))
        b = seconds(unit * (large // len(unit)))
        print(f"  {name:18} {a * 1000:8.1f} ms  {b * 1000:8.1f} ms   x{b / a:5.1f}")


if __name__ == "__main__":
    main()
