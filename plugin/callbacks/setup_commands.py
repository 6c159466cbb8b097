"""`fixpilot connectwise install` and `doctor` (being built)."""

from __future__ import annotations


def install(settings, *, account: str, dry_run: bool) -> int:
    raise NotImplementedError


def doctor(settings, *, account: str, fix: bool) -> int:
    raise NotImplementedError
