"""What every command shares: one-line errors, and running async work on a migrated
database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import DBAPIError

from plugin.cli import CommandError
from plugin.kernel.db import Database
from plugin.kernel.migrate import upgrade
from plugin.kernel.settings import Settings


def run_async(settings: Settings, fn: Callable[[Database], Coroutine[Any, Any, Any]]) -> Any:
    """Migrate, open the database, run `fn(database)`, close; database failures are one
    line."""

    async def runner() -> Any:
        await upgrade(settings.database_url)
        database = Database(settings.database_url)
        try:
            return await fn(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except (DBAPIError, OSError) as exc:
        raise CommandError(f"cannot use the database: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"


async def migrated_only(database: Database) -> None:
    return None
