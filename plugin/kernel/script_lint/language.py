"""A script's language when nobody declared it (an AI-drafted one-off script)."""

from __future__ import annotations

import re

_BASH = re.compile(
    r"^#!.*\b(ba)?sh\b|\b(sudo|systemctl|apt-get|journalctl|grep|chmod)\b", re.MULTILINE
)
_CMD = re.compile(r"^\s*(@echo off|rem\s|set\s+\w+=|goto\s|if errorlevel)", re.I | re.MULTILINE)
_CMDLET = re.compile(r"\b[A-Z][a-z]+-[A-Z][A-Za-z]+\b")


def guess_language(script: str) -> str:
    """powershell, bash or cmd (MSP scripts are mostly PowerShell, the default)."""
    if _CMD.search(script):
        return "cmd"
    if _BASH.search(script) and not _CMDLET.search(script):
        return "bash"
    return "powershell"
