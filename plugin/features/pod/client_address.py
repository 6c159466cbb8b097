"""The client's address for the per-address sign-in limit: the peer's, unless the peer is a
trusted reverse proxy, which then vouches for the hop before it in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request, trusted_proxies: list[str]) -> str:
    """The right-most address in the chain (peer last) that no trusted proxy added: hops
    to its left were written by the client and prove nothing."""
    peer = request.remote or "unknown"
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [
        hop.strip()
        for value in request.headers.getall("X-Forwarded-For", [])
        for hop in value.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return _normalised(hop)
    # Every hop is a proxy of ours (or there is no header): the left-most is the client.
    return _normalised(hops[0]) if hops else peer


def _normalised(hop: str) -> str:
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return hop[:64]  # not an address, yet what the trusted proxy says the client is
