"""Small helpers shared by tests: database access behind an app, quick set-ups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugin.kernel.appkeys import DATABASE, INSTANCE, LLM, METRICS, PSA, SETTINGS
from plugin.kernel.db import Database
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections


def db_of(client) -> Database:
    return client.app[DATABASE]


@dataclass(frozen=True)
class AppResources:
    """An application's shared resources, as tests reach for them."""

    app: object
    db: Database
    psa: PSAConnections
    metrics: Metrics

    @property
    def llm(self):
        return self.app[LLM]

    @property
    def settings(self):
        return self.app[SETTINGS]

    @property
    def secret_key(self) -> str:
        return self.app[INSTANCE].secret_key


def resources_of(app) -> AppResources:
    return AppResources(app, app[DATABASE], app[PSA], app[METRICS])


async def new_session(client, headers, title: str = "Printer queue stuck", **extra: Any) -> dict:
    resp = await client.post("/api/v1/ai-sessions", json={"title": title, **extra}, headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def insert_fix(client, session_id: int, **values: Any) -> int:
    """A fix in any state, written directly (the way a test sets up a table cell)."""
    from plugin.features.fixes.models import SuggestedFix

    async with db_of(client).write() as tx:
        fix = SuggestedFix(
            session_id=session_id,
            title=values.pop("title", "Restart the print spooler"),
            summary=values.pop("summary", "Clears the stuck queue."),
            status=values.pop("status", "suggested"),
            **values,
        )
        tx.add(fix)
        await tx.flush()
        return fix.id


async def state_version(client, headers, session_id: int) -> int:
    resp = await client.get(f"/api/v1/ai-sessions/{session_id}", headers=headers)
    return (await resp.json())["state_version"]
