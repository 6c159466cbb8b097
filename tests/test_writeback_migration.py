"""Migration 0012 on a populated database: each writeback's (stage, state) pair becomes the
one state that says where it is, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from plugin.kernel.migrate import downgrade, head_revision, upgrade

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# id: (old stage, old state, note_external_id, target_status_id) -> new state
PAIRS = {
    1: ("pending", "in_progress", None, None, "pending"),
    2: ("note_posted", "in_progress", "n2", None, "note_posted"),
    3: ("status_requested", "in_progress", "n3", 4, "status_requested"),
    4: ("pending", "queued", None, None, "waiting_retry"),
    5: ("note_posted", "queued", "n5", None, "waiting_retry"),
    6: ("status_requested", "failed", "n6", 14, "failed"),
    7: ("pending", "failed", None, None, "failed"),
    8: ("done", "done", "n8", 4, "done"),
}


async def _populate(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (1, 'default', 'Default', 'local', '{}', :now, :now)"
            ),
            {"now": NOW},
        )
        await conn.execute(
            text(
                "INSERT INTO ai_sessions (id, account_id, title, status, state_version, "
                "created_at, updated_at) VALUES (1, 1, 's', 'active', 1, :now, :now)"
            ),
            {"now": NOW},
        )
        for wid, (stage, state, note, target, _) in PAIRS.items():
            await conn.execute(
                text(
                    "INSERT INTO writebacks (id, account_id, session_id, kind, ticket_id, "
                    "markdown, stage, state, note_external_id, note_uncertain, "
                    "target_status_id, attempts, created_at, updated_at) VALUES "
                    "(:id, 1, 1, 'resolution', 5001, 'note', :stage, :state, :note, :f, "
                    ":target, 3, :now, :now)"
                ),
                {
                    "id": wid,
                    "stage": stage,
                    "state": state,
                    "note": note,
                    "f": False,
                    "target": target,
                    "now": NOW,
                },
            )
    await engine.dispose()


async def test_d4_stage_and_state_become_one_state_and_back(database_factory):
    url = await database_factory.empty()
    await upgrade(url, "0010")
    await _populate(url)
    await upgrade(url)

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        assert (
            await conn.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar() == head_revision()
        rows = dict((await conn.execute(text("SELECT id, state FROM writebacks"))).all())
        assert rows == {wid: pair[4] for wid, pair in PAIRS.items()}
        columns = (await conn.execute(text("SELECT * FROM writebacks LIMIT 1"))).keys()
        assert "stage" not in columns
        await conn.execute(text("UPDATE writebacks SET state = 'cancelled' WHERE id = 1"))
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(text("UPDATE writebacks SET state = 'queued' WHERE id = 2"))
    await engine.dispose()

    await downgrade(url, "0010")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = {
            wid: (stage, state)
            for wid, stage, state in (
                await conn.execute(text("SELECT id, stage, state FROM writebacks"))
            ).all()
        }
        expected = {wid: (pair[0], pair[1]) for wid, pair in PAIRS.items()}
        expected[1] = ("pending", "failed")  # cancelled has no place in the old model
        assert rows == expected
        with pytest.raises(IntegrityError):
            await conn.execute(text("UPDATE writebacks SET state = 'waiting_retry' WHERE id = 2"))
    await engine.dispose()
    await upgrade(url)
