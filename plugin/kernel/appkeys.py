"""Typed application state: one `AppKey` per resource the kernel owns. Features declare
keys for what they own (the preview cache, the signing-key cache...) beside that code, and
`plugin.app` fills every key; nothing is looked up by a string."""

from __future__ import annotations

from aiohttp import web

from plugin.kernel.db import Database
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.secret_memory import InstanceKeys
from plugin.kernel.settings import Settings
from providers.llm import LLMProvider

__all__ = ["DATABASE", "INSTANCE", "LLM", "METRICS", "PSA", "SETTINGS", "InstanceKeys"]


SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
METRICS = web.AppKey("metrics", Metrics)
PSA = web.AppKey("psa", PSAConnections)
LLM = web.AppKey("llm", LLMProvider)
INSTANCE = web.AppKey("instance", InstanceKeys)
