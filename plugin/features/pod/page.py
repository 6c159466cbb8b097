"""The pod page: index.html with the origins of the account's PSA, framed only by them."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def content_security_policy(origins: list[str]) -> str:
    ancestors = " ".join(origins) if origins else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


def render_page(origins: list[str], account_slug: str) -> str:
    return (
        _template()
        .replace("{{cw_origins}}", html.escape(" ".join(origins), quote=True))
        .replace("{{account}}", html.escape(account_slug, quote=True))
    )


@lru_cache(maxsize=1)
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def asset_path(name: str) -> Path | None:
    """The static file `name` (a plain file name, no directories), or None."""
    if not _ASSET_NAME.match(name) or ".." in name:
        return None
    path = STATIC_DIR / name
    if path.suffix not in ASSET_TYPES or not path.is_file():
        return None
    return path
