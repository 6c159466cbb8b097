"""The pod: the page ConnectWise embeds in the ticket screen, and its member sign-in (being built)."""

from __future__ import annotations

from plugin.http import RouteTable

routes = RouteTable("pod")
