"""Bearer tokens: created once, shown once, stored as SHA-256; every query is scoped by the
token's account."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.accounts.models import ApiToken
from plugin.kernel.db import Database, utcnow
from plugin.kernel.errors import Forbidden, Unauthorized
from plugin.kernel.http import Principal
from plugin.kernel.states import TokenKind, TokenRole
from plugin.kernel.tenancy import Account

TOKEN_PREFIX = "fxp_"
LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(
    tx: AsyncSession,
    account: Account,
    *,
    role: str,
    name: str = "",
    kind: str = TokenKind.API,
    member_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        account_id=account.id,
        role=role,
        name=name,
        kind=kind,
        member_id=member_id,
        token_hash=hash_token(token),
        token_prefix=token[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    tx.add(row)
    await tx.flush()
    return token, row


async def authenticate(request: web.Request, database: Database, required_role: str) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise Unauthorized(
            "Send an API token as 'Authorization: Bearer <token>'.", code="missing_token"
        )
    now = utcnow()
    async with database.read() as db:
        row = (
            await db.execute(
                select(ApiToken, Account.slug)
                .join(Account, Account.id == ApiToken.account_id)
                .where(ApiToken.token_hash == hash_token(token.strip()))
            )
        ).first()
    if row is None:
        raise Unauthorized("The API token is not valid.", code="invalid_token")
    api_token, slug = row
    if api_token.revoked_at is not None:
        raise Unauthorized("The API token has been revoked.", code="invalid_token")
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise Unauthorized("The session token has expired; reopen the pod.", code="token_expired")
    if required_role == TokenRole.ADMIN and api_token.role != TokenRole.ADMIN:
        raise Forbidden("This action needs an admin token.", code="admin_required")
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
        # Coarse on purpose: a write per request would serialise every read on SQLite.
        async with database.write() as tx:
            await tx.execute(
                update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
            )
    return Principal(
        account_id=api_token.account_id,
        account_slug=slug,
        role=api_token.role,
        token_id=api_token.id,
        kind=api_token.kind,
        member_id=api_token.member_id,
    )
