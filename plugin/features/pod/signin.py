"""Pod sign-in: a PSA member, confirmed by the account's own PSA, gets a short-lived
engineer token.

The browser hands over what the PSA's hosted-page API gave it (member id and hash). Only
the account's PSA decides whether they are genuine: the company, the API URL and the
clientId come from the account, never from the request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from aiohttp import web
from sqlalchemy import delete

from plugin.features.accounts.auth import create_token
from plugin.features.accounts.models import ApiToken
from plugin.features.pod.failures import SignInLimits, member_subject
from plugin.features.pod.member_cache import VerifiedMembers, member_key
from plugin.features.pod.schemas import PodMember, PodSessionIn, PodSessionOut
from plugin.kernel.appkeys import InstanceKeys
from plugin.kernel.db import Database, utcnow
from plugin.kernel.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from plugin.kernel.metrics import Metrics
from plugin.kernel.preferences import AccountPreferences
from plugin.kernel.psa import PSAConnections, connection_fingerprint, has_psa
from plugin.kernel.states import TokenKind, TokenRole
from plugin.kernel.tenancy import Account, get_account_by_slug
from providers.psa import (
    HostedPod,
    MemberIdentity,
    PSAAuthError,
    PSAError,
    PSARateLimited,
    PSAUnavailable,
)

log = structlog.get_logger("fixpilot.pod")

POD_TOKEN_LIFETIME = timedelta(hours=8)
# Expired pod tokens are deleted a while after they expire (so "expired" stays reportable).
EXPIRED_TOKEN_RETENTION = timedelta(days=1)


@dataclass
class PodSignIn:
    database: Database
    psa: PSAConnections
    instance: InstanceKeys  # its secret key is loaded at start-up
    verified: VerifiedMembers = field(default_factory=VerifiedMembers)
    limits: SignInLimits | None = None  # failure counts shared by every replica
    metrics: Metrics | None = None

    def __post_init__(self) -> None:
        if self.limits is None:
            self.limits = SignInLimits(self.database)

    def _count_failure(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.signin_failures.labels(reason).inc()

    async def sign_in(self, body: PodSessionIn, address: str) -> PodSessionOut:
        """Verify first where it is cheap (a member confirmed recently), then count: the
        limits only decide whether ConnectWise is asked again, and only ConnectWise's
        refusals are counted (`failures.py`)."""
        assert self.limits is not None
        account, pod = await self._hosted_pod(body.account)
        member = member_subject(account.id, body.member_id)
        cache_key = member_key(
            self.instance.secret_key,
            str(account.id),
            connection_fingerprint(account),
            body.member_id.lower(),
            body.member_hash,
        )
        identity = self.verified.get(cache_key)
        verified_by = "cache"
        if identity is None:
            refusal = await self.limits.check(member, address)
            if refusal is not None:
                log.info("pod_sign_in_throttled", account=account.slug, limit=refusal.reason)
                self._count_failure(f"throttled_{refusal.reason}")
                raise _too_many(refusal.wait_seconds)
            try:
                identity = await _verify(pod, account, body)
            except Unauthorized:
                self._count_failure("not_verified")
                await self.limits.record(member, address)
                raise
            self.verified.put(cache_key, identity)
            verified_by = identity.verified_by or "psa"
            await self.limits.clear_member(member)
        may_admin = AccountPreferences.from_stored(account.preferences).is_admin_member(
            identity.member_id
        )
        if body.role == TokenRole.ADMIN and not may_admin:
            raise Forbidden(
                "This ConnectWise member is not one of Fixpilot's admins (admin_members).",
                code="admin_required",
            )
        return await self._issue_token(account, identity, verified_by, body.role, may_admin)

    async def _hosted_pod(self, slug: str) -> tuple[Account, HostedPod]:
        async with self.database.read() as db:
            account = await get_account_by_slug(db, slug)
        if account is None:
            raise NotFound(f"There is no account '{slug}'.", code="account_not_found")
        pod = self.psa.for_account(account).pod if has_psa(account) else None
        if pod is None:
            raise Conflict(
                f"Account '{account.slug}' has no ConnectWise connection, so pod members "
                "cannot be verified; an admin must configure it first.",
                code="psa_not_connected",
            )
        return account, pod

    async def _issue_token(
        self,
        account: Account,
        identity: MemberIdentity,
        verified_by: str,
        role: str,
        may_admin: bool,
    ) -> PodSessionOut:
        now = utcnow()
        expires_at = now + POD_TOKEN_LIFETIME
        async with self.database.write() as tx:
            await tx.execute(
                delete(ApiToken).where(
                    ApiToken.account_id == account.id,
                    ApiToken.kind == TokenKind.POD,
                    ApiToken.expires_at < now - EXPIRED_TOKEN_RETENTION,
                )
            )
            token, _ = await create_token(
                tx,
                account,
                role=role,
                name=f"pod{' admin' if role == TokenRole.ADMIN else ''}: {identity.member_id}"[
                    :200
                ],
                kind=TokenKind.POD,
                member_id=identity.member_id,
                expires_at=expires_at,
            )
        # How ConnectWise confirmed the member (cookie or basic authentication, or a recent
        # confirmation from the cache); never the hash or the memberContext.
        log.info(
            "pod_signed_in",
            account=account.slug,
            member=identity.member_id,
            verified_by=verified_by,
            role=role,
        )
        return PodSessionOut(
            token=token,
            role=role,
            may_admin=may_admin,
            expires_at=expires_at,
            member=PodMember(id=identity.member_id, name=identity.name, email=identity.email),
            account=account.slug,
        )


def _too_many(wait_seconds: float) -> TooManyRequests:
    return TooManyRequests(
        "Too many failed sign-ins; wait a few minutes and reopen the ticket.",
        code="too_many_sign_in_failures",
        headers={"Retry-After": str(math.ceil(wait_seconds))},
    )


async def _verify(pod: HostedPod, account: Account, body: PodSessionIn) -> MemberIdentity:
    try:
        return await pod.verify_member(body.member_id, body.member_hash, body.memberContext)
    except PSAAuthError:
        log.info("pod_member_not_verified", account=account.slug, member=body.member_id)
        raise Unauthorized(
            "ConnectWise did not confirm this member. Reload the ticket in ConnectWise to "
            "sign in again.",
            code="member_not_verified",
        ) from None
    except (PSAUnavailable, PSARateLimited) as exc:
        raise ServiceUnavailable(
            "ConnectWise is unreachable right now, so the member cannot be verified; try "
            "again shortly.",
            code="psa_unavailable",
            details={"reason": exc.message},
            headers={"Retry-After": "5"},
        ) from None
    except PSAError as exc:
        raise BadGateway(
            f"ConnectWise could not verify the member: {exc.message}", code="psa_error"
        ) from None


POD_SIGN_IN = web.AppKey("pod_sign_in", PodSignIn)
