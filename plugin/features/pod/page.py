"""The pages the PSA frames: the pod (index.html), the script library, the Script Builder
and the admin page. Each carries the origins of the account's PSA (the only windows whose
messages it answers) and may be framed only by them; none runs inline script or style."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

STATIC_DIR = Path(__file__).parent / "static"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

# Page → (its HTML file, the way back to the service's root from its path, for relative
# links: the service may live under a path prefix).
PAGES = {
    "pod": ("index.html", ""),
    "library": ("library.html", ""),
    "builder": ("builder.html", "../"),
    "admin": ("admin.html", ""),
}


def content_security_policy(origins: list[str]) -> str:
    ancestors = " ".join(origins) if origins else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


def render_page(origins: list[str], account_slug: str, page: str = "pod") -> str:
    name, root = PAGES[page]
    return (
        _template(name)
        .replace("{{cw_origins}}", html.escape(" ".join(origins), quote=True))
        .replace("{{account}}", html.escape(account_slug, quote=True))
        .replace("{{root}}", root)
    )


@lru_cache(maxsize=len(PAGES))
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def embedding_origin(embed: str | None, referer: str | None) -> str | None:
    """The origin of the window that claims to frame the page: the pages carry it as
    `embed`; the first page's request names it in its Referer."""
    for candidate in (embed, referer):
        if not candidate:
            continue
        parts = urlsplit(candidate)
        if parts.scheme in ("http", "https") and parts.hostname:
            try:
                port = parts.port
            except ValueError:
                continue
            default = {"http": 80, "https": 443}[parts.scheme]
            host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
            return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")
    return None


def frame_origins(from_psa: list[str], extra: list[str]) -> list[str]:
    """The PSA's origins, then the admin's extra ones, each once."""
    return list(dict.fromkeys([*from_psa, *extra]))


def asset_path(name: str) -> Path | None:
    """The static file `name` (a plain file name, no directories), or None."""
    if not _ASSET_NAME.match(name) or ".." in name:
        return None
    path = STATIC_DIR / name
    if path.suffix not in ASSET_TYPES or not path.is_file():
        return None
    return path
