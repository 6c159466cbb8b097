"""Typed application state: one `AppKey` per resource the kernel owns. Features declare
keys for what they own (the preview cache, the signing-key cache...) beside that code, and
`plugin.app` fills every key; nothing is looked up by a string."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from plugin.kernel.db import Database
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.secret_memory import SecretBox
from plugin.kernel.settings import Settings
from providers.llm import LLMProvider


@dataclass
class InstanceKeys:
    """Keys that exist once per installation, loaded at start-up (shared by replicas)."""

    secret_key: str = ""

    def box(self) -> SecretBox:
        """What session secrets are encrypted with."""
        return SecretBox(self.secret_key)


SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
METRICS = web.AppKey("metrics", Metrics)
PSA = web.AppKey("psa", PSAConnections)
LLM = web.AppKey("llm", LLMProvider)
INSTANCE = web.AppKey("instance", InstanceKeys)
