"""`fixpilot accounts add|list|show`: MSP accounts and their PSA connections."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from plugin.cli import CommandError
from plugin.cli.common import run_async
from plugin.features.accounts.service import (
    describe_account,
    ensure_default_account,
    instance_keys,
)
from plugin.features.scripts.shipped import load_shipped_library
from plugin.kernel.db import Database
from plugin.kernel.psa import set_psa_connection
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import Account, get_account_by_slug
from providers.psa import LOCAL, PSA_VENDORS


def _connectwise_fields(args: argparse.Namespace) -> dict[str, Any]:
    private_key = args.cw_private_key or os.environ.get("FIXPILOT_NEW_CW_PRIVATE_KEY")
    cw = [args.cw_url, args.cw_company_id, args.cw_public_key, private_key]
    if any(cw) and not all(cw):
        raise CommandError(
            "a ConnectWise connection needs --cw-url, --cw-company-id, --cw-public-key and "
            "--cw-private-key together",
            exit_code=2,
        )
    if not any(cw):
        return {}
    fields = {
        "api_url": args.cw_url,
        "company_id": args.cw_company_id,
        "public_key": args.cw_public_key,
        "private_key": private_key,
        "client_id": args.cw_client_id or "",
        "api_member_id": args.cw_api_member_id,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _connection(args: argparse.Namespace) -> tuple[str, BaseModel | None]:
    """The PSA named on the command line and its validated connection."""
    fields = _connectwise_fields(args)
    if args.psa_config:
        try:
            fields.update(json.loads(args.psa_config))
        except ValueError as exc:
            raise CommandError(f"--psa-config is not JSON: {exc}", exit_code=2) from None
    provider = args.psa or ("connectwise" if fields else LOCAL)
    if provider == LOCAL:
        return LOCAL, None
    try:
        return provider, PSA_VENDORS[provider].connection.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "connection"
        option = f"--cw-{field.replace('_', '-')}" if provider == "connectwise" else field
        message = err["msg"].removeprefix("Value error, ")
        raise CommandError(f"{option} {message}", exit_code=2) from None


def add(settings: Settings, args: argparse.Namespace) -> int:
    provider, connection = _connection(args)

    async def go(database: Database) -> dict:
        box = (await instance_keys(database, settings)).box()
        async with database.write() as tx:
            if await get_account_by_slug(tx, args.slug) is not None:
                raise CommandError(f"account {args.slug!r} already exists")
            account = Account(slug=args.slug, name=args.name or args.slug, preferences={})
            set_psa_connection(account, provider, connection, box=box)
            tx.add(account)
            await tx.flush()
            described = describe_account(account, box)
            if settings.shipped_library:
                described["script_library"] = await load_shipped_library(tx, account.id)
            return described

    print(json.dumps(run_async(settings, go), indent=2))
    return 0


def list_accounts(settings: Settings, args: argparse.Namespace) -> int:
    async def go(database: Database) -> list[dict]:
        box = (await ensure_default_account(database, settings)).box()
        async with database.read() as db:
            accounts = (await db.execute(select(Account).order_by(Account.id))).scalars()
            return [describe_account(a, box) for a in accounts]

    for row in run_async(settings, go):
        print(json.dumps(row))
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    async def go(database: Database) -> dict:
        box = (await ensure_default_account(database, settings)).box()
        async with database.read() as db:
            account = await get_account_by_slug(db, args.slug)
            if account is None:
                raise CommandError(f"no account {args.slug!r}")
            return describe_account(account, box)

    print(json.dumps(run_async(settings, go), indent=2))
    return 0
