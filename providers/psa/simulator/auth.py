"""Who is calling: ConnectWise's ways in, as the simulator checks them.

Every API request carries the integration's `clientId` header, and then one of:

- `Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")`: the API member;
- `Authorization: Basic base64("{companyId}+{memberId}:{memberHash}")`: a member, with the
  hash the Hosted API gave a pod;
- the Hosted API's cookies `companyName`, `memberId`, `memberHash` and `memberContext`: a
  member too. The memberContext must travel with the hash: a missing or wrong one is refused.

A site may refuse member hashes over Basic (`state.member_hash_over_basic = False`), as real
sites that insist on the cookies do.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from providers.psa.simulator.records import SimError
from providers.psa.simulator.state import SimulatorState

_MEMBER_COOKIES = ("companyName", "memberId", "memberHash", "memberContext")


def authenticate(request: web.Request, state: SimulatorState) -> str:
    """The identifier of the caller: the API member or a member; else a 401 `SimError`."""
    if request.headers.get("clientId") != state.client_id:
        raise SimError(401, "Unauthorized", "The clientId header is missing or not recognised")
    if "Authorization" in request.headers:
        caller = _basic_caller(request.headers["Authorization"], state)
    elif "memberHash" in request.cookies:
        caller = _cookie_caller(request, state)
    else:
        caller = None
    if caller is None:
        raise SimError(401, "Unauthorized", "Unable to authenticate with the credentials provided")
    return caller


def _basic_caller(header: str, state: SimulatorState) -> str | None:
    scheme, _, token = header.partition(" ")
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, secret = decoded.partition(":")
    company, _, username = user.partition("+")
    if scheme.lower() != "basic" or company.lower() != state.company_id.lower() or not secret:
        return None
    if username == state.public_key and _same(secret, state.private_key):
        return state.api_member_id
    member = state.member(username)
    if not state.member_hash_over_basic:
        return None
    if member and member.member_hash and _same(secret, member.member_hash):
        return member.identifier
    return None


def _cookie_caller(request: web.Request, state: SimulatorState) -> str | None:
    company, member_id, member_hash, context = (
        request.cookies.get(name, "") for name in _MEMBER_COOKIES
    )
    member = state.member(member_id)
    if (
        company.lower() != state.company_id.lower()
        or member is None
        or not member.member_hash
        or not member.member_context
    ):
        return None
    if _same(member_hash, member.member_hash) and _same(context, member.member_context):
        return member.identifier
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
