"""The pod page: index.html with the account's ConnectWise origins, framed only by them."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from plugin.accounts.models import Account

STATIC_DIR = Path(__file__).parent / "static"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def connectwise_origins(account: Account) -> list[str]:
    """The origins ConnectWise shows the ticket screen on, from the account's API URL.

    On-premise and test sites serve the screens and the API on one host. ConnectWise
    Cloud's API host is the screens' host with an `api-` prefix (api-na.myconnectwise.net
    for na.myconnectwise.net), so both are allowed there.
    """
    if not account.cw_api_url:
        return []
    parts = urlsplit(account.cw_api_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return []
    try:
        port = parts.port
    except ValueError:
        return []
    suffix = f":{port}" if port and port != _DEFAULT_PORTS[parts.scheme] else ""
    hosts = [host]
    if host.startswith("api-") and "." in host:
        hosts.append(host.removeprefix("api-"))
    return [f"{parts.scheme}://{_bracketed(h)}{suffix}" for h in hosts]


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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
