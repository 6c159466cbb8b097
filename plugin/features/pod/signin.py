"""Pod sign-in: a ConnectWise member, confirmed by the account's own ConnectWise, gets a
short-lived engineer token.

The browser hands over what ConnectWise's Hosted API gave it (member id and hash). Only
the account's ConnectWise decides whether they are genuine: the company, the API URL and
the clientId come from the account, never from the request.
"""

from __future__ import annotations

import math
from datetime import timedelta

import structlog
from sqlalchemy import delete

from plugin.accounts.auth import create_token
from plugin.accounts.models import Account, ApiToken
from plugin.accounts.service import get_account_by_slug
from plugin.db import utcnow
from plugin.errors import (
    BadGateway,
    Conflict,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from plugin.pod.member_cache import FailedAttempts, VerifiedMembers, member_key
from plugin.pod.schemas import PodMember, PodSessionIn, PodSessionOut
from plugin.services import Services
from providers.psa import (
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
MEMBER_FAILURE_LIMIT = 5  # failed sign-ins per member per window
ADDRESS_FAILURE_LIMIT = 20  # failed sign-ins per client address per window
_VERIFIED = "pod.verified_members"
_FAILURES = "pod.failed_attempts"


def has_connectwise(account: Account) -> bool:
    return bool(
        account.psa_provider == "connectwise" and account.cw_api_url and account.cw_company_id
    )


async def sign_in(services: Services, body: PodSessionIn, address: str) -> PodSessionOut:
    async with services.db.read() as session:
        account = await get_account_by_slug(session, body.account)
    if account is None:
        raise NotFound(f"There is no account '{body.account}'.", code="account_not_found")
    if not has_connectwise(account):
        raise Conflict(
            f"Account '{account.slug}' has no ConnectWise connection, so pod members cannot "
            "be verified; an admin must configure it first.",
            code="psa_not_connected",
        )

    verified, failures = _memory(services)
    limits = {
        f"member:{account.id}:{body.member_id.lower()}": MEMBER_FAILURE_LIMIT,
        f"address:{address}": ADDRESS_FAILURE_LIMIT,
    }
    for key, limit in limits.items():
        wait = failures.retry_after(key, limit)
        if wait is not None:
            raise TooManyRequests(
                "Too many failed sign-ins; wait a few minutes and reopen the ticket.",
                code="too_many_sign_in_failures",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    cache_key = member_key(
        services.secret_key,
        str(account.id),
        account.cw_api_url or "",
        (account.cw_company_id or "").lower(),
        body.member_id.lower(),
        body.member_hash,
    )
    identity = verified.get(cache_key)
    if identity is None:
        try:
            identity = await _verify(services, account, body)
        except Unauthorized:
            for key in limits:
                failures.record(key)
            raise
        verified.put(cache_key, identity)
    # The member's own slate is clean again; the address's is not (one good member must
    # not unlock guessing at the others).
    failures.clear(next(iter(limits)))

    return await _issue_token(services, account, identity)


async def _verify(services: Services, account: Account, body: PodSessionIn) -> MemberIdentity:
    psa = services.psa.for_account(account)
    try:
        return await psa.verify_member(body.member_id, body.member_hash)
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


async def _issue_token(
    services: Services, account: Account, identity: MemberIdentity
) -> PodSessionOut:
    now = utcnow()
    expires_at = now + POD_TOKEN_LIFETIME
    async with services.db.write() as session:
        await session.execute(
            delete(ApiToken).where(
                ApiToken.account_id == account.id,
                ApiToken.kind == "pod",
                ApiToken.expires_at < now - EXPIRED_TOKEN_RETENTION,
            )
        )
        token, _ = await create_token(
            session,
            account,
            role="engineer",
            name=f"pod: {identity.member_id}"[:200],
            kind="pod",
            member_id=identity.member_id,
            expires_at=expires_at,
        )
    log.info("pod_signed_in", account=account.slug, member=identity.member_id)
    return PodSessionOut(
        token=token,
        expires_at=expires_at,
        member=PodMember(id=identity.member_id, name=identity.name, email=identity.email),
        account=account.slug,
    )


def _memory(services: Services) -> tuple[VerifiedMembers, FailedAttempts]:
    verified = services.extras.setdefault(_VERIFIED, VerifiedMembers())
    failures = services.extras.setdefault(_FAILURES, FailedAttempts())
    return verified, failures
