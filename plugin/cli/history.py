"""`fixpilot connectwise import-history --since 90d [--board ID]`: index the PSA's closed
tickets and their notes as history to learn from (resumable; a progress bar on stderr)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime, timedelta

from plugin.cli import CommandError
from plugin.cli.common import run_async
from plugin.features.accounts.service import ensure_default_account
from plugin.features.search.history import import_history
from plugin.kernel.db import Database
from plugin.kernel.psa import PSAConnections, has_psa
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa import PSAError

_SPAN = re.compile(r"^(\d{1,5})([dw])$")
BAR_WIDTH = 30
REDRAW_SECONDS = 0.2


def since_arg(text: str) -> datetime:
    match = _SPAN.match(text.strip())
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return datetime.now(UTC) - timedelta(days=days)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--since {text!r} is not like 90d, 12w or 2026-01-31", exit_code=2
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def command(settings: Settings, args: argparse.Namespace) -> int:
    return import_command(
        settings,
        account=args.account,
        since=since_arg(args.since),
        board=args.board,
        restart=args.restart,
    )


def import_command(
    settings: Settings, *, account: str, since: datetime, board: int | None, restart: bool
) -> int:
    bar = ProgressBar()

    async def go(database: Database) -> int:
        keys = await ensure_default_account(database, settings)
        async with database.read() as db:
            acct = await get_account_by_slug(db, account)
        if acct is None:
            raise CommandError(f"no account {account!r}; see `fixpilot accounts list`", 2)
        providers = PSAConnections(settings, keys)
        try:
            history = providers.for_account(acct).history if has_psa(acct) else None
            if history is None:
                raise CommandError(f"account {account!r} has no PSA history to import", 2)
            result = await import_history(
                database, history, acct.id, since=since, board_id=board, restart=restart,
                on_progress=bar.update,
            )  # fmt: skip
        except PSAError as exc:
            bar.finish()
            raise CommandError(f"stopped: {exc.message}; run it again to resume") from None
        finally:
            await providers.aclose()
        bar.finish()
        resumed = f", resumed after ticket #{result.resumed_after}" if result.resumed_after else ""
        print(
            f"imported {result.imported} of {result.total} closed tickets since "
            f"{result.since:%Y-%m-%d}{resumed}"
        )
        return 0

    return run_async(settings, go)


class ProgressBar:
    """`[#########.....] 120/370` on stderr, redrawn at most every REDRAW_SECONDS."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self._drawn_at = 0.0
        self._last = ""

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self._last = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"
        self.stream.write("\r" + self._last)
        self.stream.flush()

    def finish(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
