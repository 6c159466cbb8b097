"""The Fixpilot pod inside ConnectWise's ticket screen (the Hosted API): which origins may
frame it, and who the member behind it is, as ConnectWise itself confirms."""

from __future__ import annotations

import logging
import re
from typing import Any

from providers.psa.base import MemberIdentity, PSAAuthError, PSAPermissionError
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig, basic_authorization
from providers.psa.connectwise.hosts import connectwise_origins

__all__ = ["ConnectWiseHostedPod", "connectwise_origins"]

log = logging.getLogger(__name__)

MY_MEMBER_INFO = "system/myMembers/info"
# RFC 6265 cookie-octets: a value with anything else can't travel as a cookie unquoted.
_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$")


class ConnectWiseHostedPod:
    def __init__(self, config: ConnectWiseConfig, client: ConnectWiseClient) -> None:
        self._config = config
        self._client = client

    def frame_origins(self) -> list[str]:
        return connectwise_origins(self._config.api_url)

    async def verify_member(
        self, member_id: str, member_hash: str, member_context: str | None = None
    ) -> MemberIdentity:
        """Ask ConnectWise who the pod's member is: with the Hosted API's cookies first
        (memberContext must travel with the hash; real sites may insist on it), then with
        Basic `company+member:hash`. Only the way that worked is logged, never the hash or
        the context."""
        member_id = (member_id or "").strip()
        if not member_id or not member_hash or ":" in member_id:
            raise PSAAuthError("member id and member hash are required")
        cookies = self._member_cookies(member_id, member_hash, member_context)
        if cookies is not None:
            try:
                info = await self._member_info(member_id, cookies=cookies)
            except (PSAAuthError, PSAPermissionError) as exc:
                log.info(
                    "connectwise member %s: cookie authentication refused (%s), trying Basic",
                    member_id,
                    exc.status or "not confirmed",
                )
            else:
                return _identity(info, verified_by="cookie")
        authorization = basic_authorization(self._config.company_id, member_id, member_hash)
        info = await self._member_info(member_id, authorization=authorization)
        return _identity(info, verified_by="basic")

    def _member_cookies(
        self, member_id: str, member_hash: str, member_context: str | None
    ) -> dict[str, str] | None:
        """The Hosted API's cookies, or None when the pod sent no memberContext (or values
        that cannot be sent as cookies)."""
        cookies = {
            "companyName": self._config.company_id,
            "memberId": member_id,
            "memberHash": member_hash,
            "memberContext": member_context or "",
        }
        if all(_COOKIE_VALUE.match(value) for value in cookies.values()):
            return cookies
        return None

    async def _member_info(self, member_id: str, **auth: Any) -> dict[str, Any]:
        response = await self._client.request("GET", MY_MEMBER_INFO, **auth)
        info = response.data if isinstance(response.data, dict) else {}
        identifier = str(info.get("identifier") or info.get("memberIdentifier") or "")
        if identifier.lower() != member_id.lower():
            raise PSAAuthError("ConnectWise did not confirm this member", status=response.status)
        return info


def _identity(info: dict[str, Any], *, verified_by: str) -> MemberIdentity:
    # myMembers/info answers ConnectWise's MyMemberInfo: fullName, defaultEmail.
    name = info.get("fullName") or " ".join(
        part for part in (info.get("firstName"), info.get("lastName")) if part
    )
    identifier = str(info.get("identifier") or info.get("memberIdentifier"))
    log.info("connectwise member %s verified by %s authentication", identifier, verified_by)
    return MemberIdentity(
        member_id=identifier,
        name=name or None,
        email=info.get("defaultEmail") or None,
        verified_by=verified_by,
    )
