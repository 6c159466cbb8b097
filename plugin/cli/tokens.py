"""`fixpilot tokens create|list|revoke`."""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from plugin.cli import CommandError
from plugin.cli.common import run_async
from plugin.features.accounts.auth import create_token
from plugin.features.accounts.models import ApiToken
from plugin.features.accounts.service import ensure_default_account
from plugin.kernel.db import Database, utcnow
from plugin.kernel.settings import Settings
from plugin.kernel.states import TokenKind
from plugin.kernel.tenancy import Account, get_account_by_slug


def create(settings: Settings, args: argparse.Namespace) -> int:
    async def go(database: Database) -> str:
        await ensure_default_account(database, settings)
        async with database.write() as tx:
            account = await get_account_by_slug(tx, args.account)
            if account is None:
                raise CommandError(f"no account {args.account!r}; see `fixpilot accounts list`")
            token, _ = await create_token(tx, account, role=args.role, name=args.name)
            return token

    print(run_async(settings, go))
    return 0


def list_tokens(settings: Settings, args: argparse.Namespace) -> int:
    async def go(database: Database) -> list[dict]:
        async with database.read() as db:
            stmt = (
                select(ApiToken, Account.slug)
                .join(Account)
                .where(ApiToken.kind == TokenKind.API)
                .order_by(ApiToken.id)
            )
            if args.account:
                stmt = stmt.where(Account.slug == args.account)
            rows = (await db.execute(stmt)).all()
        return [_describe(token, slug) for token, slug in rows]

    for row in run_async(settings, go):
        print(json.dumps(row))
    return 0


def _describe(token: ApiToken, slug: str) -> dict:
    return {
        "id": token.id,
        "account": slug,
        "role": token.role,
        "name": token.name,
        "prefix": token.token_prefix + "…",
        "created_at": token.created_at.isoformat(timespec="seconds"),
        "last_used_at": token.last_used_at.isoformat(timespec="seconds")
        if token.last_used_at
        else None,
        "revoked": token.revoked_at is not None,
    }


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def go(database: Database) -> None:
        async with database.write() as tx:
            token = await tx.get(ApiToken, args.token_id)
            if token is None:
                raise CommandError(f"no token with id {args.token_id}")
            token.revoked_at = token.revoked_at or utcnow()

    run_async(settings, go)
    print(f"token {args.token_id} revoked")
    return 0
