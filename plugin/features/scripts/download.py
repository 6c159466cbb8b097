"""A rendered script as the file an engineer saves and runs."""

from __future__ import annotations

import re

from plugin.features.fixes.schemas import ScriptDownload

_EXTENSIONS = {"powershell": ".ps1", "bash": ".sh", "cmd": ".cmd"}
_BOM = "\ufeff"


def script_download(script: str, language: str, stem: str) -> ScriptDownload:
    """PowerShell: UTF-8 with a BOM (Windows PowerShell 5.1 reads a file without one in the
    ANSI code page, where a byte of a UTF-8 character can become a quote) and CRLF; cmd: CRLF
    (cmd misreads labels in LF-only files) and no BOM (cmd would run it as text); bash: LF."""
    name = (re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-") or "script")[:80]
    lf = script.replace("\r\n", "\n")
    if language == "powershell":
        content = _BOM + lf.lstrip(_BOM).replace("\n", "\r\n")
        media_type = "text/plain; charset=utf-8"
    elif language == "cmd":
        content, media_type = lf.replace("\n", "\r\n"), "text/plain; charset=utf-8"
    else:
        content, media_type = lf, "text/x-shellscript; charset=utf-8"
    return ScriptDownload(
        filename=name + _EXTENSIONS.get(language, ".txt"), media_type=media_type, content=content
    )
