"""ConnectWise callback intake and the admin view of stored events (being built)."""

from __future__ import annotations

from plugin.http import RouteTable

routes = RouteTable("callbacks")
