"""The characters PowerShell reads as quotes, dashes and blanks (its tokenizer's classes)."""

from __future__ import annotations

PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
PS_DOUBLE_QUOTES = '"\u201c\u201d\u201e'
PS_DASHES = "-\u2013\u2014\u2015"
