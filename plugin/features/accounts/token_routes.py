"""API tokens over HTTP, for the admin page: list, create (the token is shown once),
revoke. Only the account's own long-lived tokens; pod sessions expire by themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from plugin.features.accounts.auth import TOKEN_CACHE, create_token
from plugin.features.accounts.models import ApiToken
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Conflict
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.states import TokenKind
from plugin.kernel.tenancy import get_account, get_scoped

routes = RouteTable("tokens")
TOKENS = "/api/v1/admin/tokens"


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str = Field(description="The token's first characters, to recognise it")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Literal["engineer", "admin"] = "engineer"


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, stored only hashed")


def _out(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.token_prefix + "…",
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


class MeOut(BaseModel):
    account: str
    role: str
    kind: str
    actor: str = Field(description="The ConnectWise member, or token:<id> for an API token")


@routes.get("/api/v1/me", summary="Who this token is: account, role, member", response=MeOut)
async def me(req: Req) -> MeOut:
    caller = req.caller
    return MeOut(
        account=caller.account_slug, role=caller.role, kind=caller.kind, actor=caller.actor
    )


@routes.get(TOKENS, summary="The account's API tokens (admin)", auth="admin", response=TokenList)
async def list_tokens(req: Req) -> TokenList:
    async with req.database.read() as db:
        rows = await db.execute(
            select(ApiToken)
            .where(ApiToken.account_id == req.account_id, ApiToken.kind == TokenKind.API)
            .order_by(ApiToken.id)
        )
        return TokenList(items=[TokenOut(**_out(row)) for row in rows.scalars()])


@routes.post(
    TOKENS,
    summary="Create an API token; the answer is the only time it is shown (admin)",
    auth="admin",
    body=TokenCreate,
    response=TokenCreated,
    status=201,
)
async def create_api_token(req: Req[TokenCreate, Any]) -> TokenCreated:
    async with req.database.write() as tx:
        account = await get_account(tx, req.account_id)
        token, row = await create_token(tx, account, role=req.body.role, name=req.body.name)
        return TokenCreated(token=token, **_out(row))


@routes.delete(
    TOKENS + "/{token_id}",
    summary="Revoke an API token (admin); your own cannot be revoked here",
    auth="admin",
    response=TokenOut,
    errors=(404, 409),
)
async def revoke_token(req: Req) -> TokenOut:
    token_id = req.path_int("token_id")
    if req.caller.token_id == token_id:
        raise Conflict("This is the token you are signed in with.", code="own_token")
    async with req.database.write() as tx:
        row = await get_scoped(tx, ApiToken, token_id, req.account_id, what="Token")
        if row.kind != TokenKind.API:
            raise Conflict("Only API tokens are revoked here.", code="not_an_api_token")
        row.revoked_at = row.revoked_at or utcnow()
        await tx.flush()
        out = TokenOut(**_out(row))
    req.app[TOKEN_CACHE].forget(token_id)  # other replicas: within CACHE_SECONDS
    return out
