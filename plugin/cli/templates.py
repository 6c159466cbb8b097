"""`fixpilot templates import`: load an MSP's own JSON list of script templates (idempotent;
the shipped library loads itself, see plugin.features.scripts.shipped)."""

from __future__ import annotations

import argparse
import json

from plugin.cli import CommandError
from plugin.cli.common import run_async
from plugin.features.accounts.service import ensure_default_account
from plugin.features.scripts.service import import_templates
from plugin.kernel.db import Database
from plugin.kernel.errors import ApiError
from plugin.kernel.settings import Settings
from plugin.kernel.states import TemplateOrigin
from plugin.kernel.tenancy import get_account_by_slug


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    try:
        items = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}", exit_code=2) from None
    if not isinstance(items, list):
        raise CommandError(f"{args.file} must hold a JSON list of templates", exit_code=2)

    async def go(database: Database) -> dict:
        await ensure_default_account(database, settings)
        async with database.write() as tx:
            account = await get_account_by_slug(tx, args.account)
            if account is None:
                raise CommandError(f"no account {args.account!r}")
            try:
                return await import_templates(tx, account.id, items, origin=TemplateOrigin.LIBRARY)
            except ApiError as exc:
                fields = "; ".join(f"{k}: {v}" for k, v in exc.details.get("fields", {}).items())
                raise CommandError(f"{exc.message} {fields}".strip(), exit_code=2) from None

    counts = run_async(settings, go)
    print(", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0
