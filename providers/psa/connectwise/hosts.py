"""The hosts an account's ConnectWise lives on, derived from its API URL alone.

On-premise and test sites serve the screens, the API and the callback signing keys on one
host. ConnectWise Cloud's API host is the screens' host of the same region with an `api-`
prefix (api-na.myconnectwise.net beside na.myconnectwise.net), and a callback's key URL may
name either. Nothing else is the account's: another region, a look-alike host, another port
or scheme, or a URL carrying user info.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
CLOUD_API_PREFIX = "api-"


def url_origin(url: str | None) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL (default port left out), or None
    for anything else, including a URL with user info."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket
        return None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return _origin(parts.scheme, host, port)


def connectwise_origins(api_url: str | None) -> list[str]:
    """The origins of the account's ConnectWise: its API host and, on Cloud, the screens'
    host of the same region (same scheme and port)."""
    origin = url_origin(api_url)
    if origin is None:
        return []
    parts = urlsplit(api_url)  # url_origin accepted it, so these parse
    host = parts.hostname or ""
    origins = [origin]
    if host.startswith(CLOUD_API_PREFIX) and "." in host:
        origins.append(_origin(parts.scheme, host.removeprefix(CLOUD_API_PREFIX), parts.port))
    return origins


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{shown_host}{suffix}"
