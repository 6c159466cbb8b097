"""Shared set-up for the benchmark scripts: a migrated SQLite database in a temp dir and an
app served on loopback."""

from __future__ import annotations

import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from plugin.app import create_app
from plugin.features.accounts.auth import create_token
from plugin.kernel.appkeys import DATABASE
from plugin.kernel.migrate import upgrade
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import get_account_by_slug


@asynccontextmanager
async def served_app(database_url: str | None = None, *, workers: bool = True, **overrides):
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        settings = Settings.model_construct(
            **{
                **Settings().model_dump(),
                "database_url": url,
                "log_level": "warning",
                "anthropic_api_key": None,
                "cw_url": None,
                **overrides,
            }
        )
        from plugin.kernel.logging import configure_logging

        configure_logging("console", "warning")
        client = TestClient(TestServer(create_app(settings, workers=workers)))
        await client.start_server()
        try:
            async with client.app[DATABASE].write() as session:
                account = await get_account_by_slug(session, "default")
                token, _ = await create_token(session, account, role="admin")
            yield client, {"Authorization": f"Bearer {token}"}, url
        finally:
            await client.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.ms = (time.perf_counter() - self.started) * 1000
