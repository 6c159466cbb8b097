"""Bearer tokens: created once, shown once, stored as SHA-256; every query is scoped by the
token's account. Verified from a cache of a few seconds (see TokenCache)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import bindparam, select, update
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
    """The caller of a request, from its bearer token (a TokenCache must be under
    TOKEN_CACHE)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise Unauthorized(
            "Send an API token as 'Authorization: Bearer <token>'.", code="missing_token"
        )
    cache = request.app[TOKEN_CACHE]
    token_hash = hash_token(token.strip())
    known = cache.get(token_hash)
    if known is None:
        known = await _load(database, token_hash)
        if known is None:
            raise Unauthorized("The API token is not valid.", code="invalid_token")
        cache.put(token_hash, known)
    now = cache.wall()
    if known.revoked:
        raise Unauthorized("The API token has been revoked.", code="invalid_token")
    # Checked on every hit, not only on a load: a pod token expires on the second.
    if known.expires_at is not None and known.expires_at <= now:
        raise Unauthorized("The session token has expired; reopen the pod.", code="token_expired")
    principal = known.principal
    if required_role == TokenRole.ADMIN and principal.role != TokenRole.ADMIN:
        raise Forbidden("This action needs an admin token.", code="admin_required")
    if known.last_used_at is None or now - known.last_used_at > LAST_USED_RESOLUTION:
        # Coarse on purpose: a write per request would serialise every read on SQLite.
        known.last_used_at = now
        async with database.write() as tx:
            await tx.execute(
                update(ApiToken).where(ApiToken.id == principal.token_id).values(last_used_at=now)
            )
    return principal


# --- The token cache: a few seconds of memory per replica, so the hot reads skip the token
# query. A token revoked on any replica stops working everywhere within CACHE_SECONDS (on
# this replica, at once: the revoking route forgets it).
CACHE_SECONDS = 5.0
CACHE_CAP = 10_000


@dataclass
class KnownToken:
    principal: Principal
    revoked: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    loaded_at: float = 0.0


class TokenCache:
    def __init__(
        self,
        ttl: float = CACHE_SECONDS,
        cap: int = CACHE_CAP,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ttl, self.cap, self.clock, self.wall = ttl, cap, clock, wall
        self._known: dict[str, KnownToken] = {}

    def get(self, token_hash: str) -> KnownToken | None:
        known = self._known.get(token_hash)
        if known is not None and self.clock() - known.loaded_at >= self.ttl:
            del self._known[token_hash]
            return None
        return known

    def put(self, token_hash: str, known: KnownToken) -> None:
        known.loaded_at = self.clock()
        self._known.pop(token_hash, None)
        self._known[token_hash] = known
        while len(self._known) > self.cap:  # the oldest load goes first
            del self._known[next(iter(self._known))]

    def clear(self) -> None:
        self._known.clear()

    def forget(self, token_id: int) -> None:
        for token_hash in [h for h, k in self._known.items() if k.principal.token_id == token_id]:
            del self._known[token_hash]


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)

_T, _A = ApiToken.__table__, Account.__table__
_TOKEN_BY_HASH = (
    select(
        _T.c.id,
        _T.c.account_id,
        _T.c.role,
        _T.c.kind,
        _T.c.member_id,
        _T.c.expires_at,
        _T.c.last_used_at,
        _T.c.revoked_at,
        _A.c.slug,
    )
    .select_from(_T.join(_A, _A.c.id == _T.c.account_id))
    .where(_T.c.token_hash == bindparam("token_hash"))
)


async def _load(database: Database, token_hash: str) -> KnownToken | None:
    rows = await database.hot_reads.rows(_TOKEN_BY_HASH, {"token_hash": token_hash})
    if not rows:
        return None
    row = rows[0]
    principal = Principal(
        account_id=row["account_id"],
        account_slug=row["slug"],
        role=row["role"],
        token_id=row["id"],
        kind=row["kind"],
        member_id=row["member_id"],
    )
    return KnownToken(
        principal, row["revoked_at"] is not None, row["expires_at"], row["last_used_at"]
    )
