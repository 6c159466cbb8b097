"""What handlers and workers share: settings, database, metrics, providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin.db import Database
from plugin.metrics import Metrics
from plugin.notes.cache import PreviewCache
from plugin.psa import PSAProviders
from plugin.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    secret_key: str = ""
    llm: Any = None  # providers.llm.LLMProvider, set at start-up
    preview_cache: PreviewCache | None = None
    psa: PSAProviders | None = None
    extras: dict[str, Any] = field(default_factory=dict)
