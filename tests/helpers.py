"""Small helpers shared by tests: database access behind an app, quick set-ups."""

from __future__ import annotations

from typing import Any

from plugin.app import SERVICES


def db_of(client):
    return client.app[SERVICES].db


async def new_session(client, headers, title: str = "Printer queue stuck", **extra: Any) -> dict:
    resp = await client.post("/api/v1/ai-sessions", json={"title": title, **extra}, headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def insert_fix(client, session_id: int, **values: Any) -> int:
    """A fix in any state, written directly (the way a test sets up a table cell)."""
    from plugin.fixes.models import SuggestedFix

    async with db_of(client).write() as session:
        fix = SuggestedFix(
            session_id=session_id,
            title=values.pop("title", "Restart the print spooler"),
            summary=values.pop("summary", "Clears the stuck queue."),
            status=values.pop("status", "suggested"),
            **values,
        )
        session.add(fix)
        await session.flush()
        return fix.id


async def state_version(client, headers, session_id: int) -> int:
    resp = await client.get(f"/api/v1/ai-sessions/{session_id}", headers=headers)
    return (await resp.json())["state_version"]
