"""The Fixpilot pod inside ConnectWise's ticket screen (the Hosted API): which origins may
frame it, and who the member behind it is, as ConnectWise itself confirms."""

from __future__ import annotations

from urllib.parse import urlsplit

from providers.psa.base import MemberIdentity, PSAAuthError
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig, basic_authorization

_DEFAULT_PORTS = {"http": 80, "https": 443}


def connectwise_origins(api_url: str | None) -> list[str]:
    """The origins ConnectWise shows the ticket screen on, from the account's API URL.

    On-premise and test sites serve the screens and the API on one host. ConnectWise
    Cloud's API host is the screens' host with an `api-` prefix (api-na.myconnectwise.net
    for na.myconnectwise.net), so both are allowed there.
    """
    if not api_url:
        return []
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return []
    try:
        port = parts.port
    except ValueError:
        return []
    suffix = f":{port}" if port and port != _DEFAULT_PORTS[parts.scheme] else ""
    hosts = [host]
    if host.startswith("api-") and "." in host:
        hosts.append(host.removeprefix("api-"))
    return [f"{parts.scheme}://{_bracketed(h)}{suffix}" for h in hosts]


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class ConnectWiseHostedPod:
    def __init__(self, config: ConnectWiseConfig, client: ConnectWiseClient) -> None:
        self._config = config
        self._client = client

    def frame_origins(self) -> list[str]:
        return connectwise_origins(self._config.api_url)

    async def verify_member(
        self, member_id: str, member_hash: str, member_context: str | None = None
    ) -> MemberIdentity:
        member_id = (member_id or "").strip()
        if not member_id or not member_hash or ":" in member_id:
            raise PSAAuthError("member id and member hash are required")
        authorization = basic_authorization(self._config.company_id, member_id, member_hash)
        response = await self._client.request(
            "GET", "system/myMembers/info", authorization=authorization
        )
        info = response.data if isinstance(response.data, dict) else {}
        identifier = str(info.get("identifier") or info.get("memberIdentifier") or "")
        if identifier.lower() != member_id.lower():
            raise PSAAuthError("ConnectWise did not confirm this member", status=response.status)
        # myMembers/info answers ConnectWise's MyMemberInfo: fullName, defaultEmail.
        name = (
            info.get("fullName")
            or info.get("name")
            or " ".join(part for part in (info.get("firstName"), info.get("lastName")) if part)
        )
        email = (
            info.get("defaultEmail")
            or info.get("officeEmail")
            or info.get("primaryEmail")
            or info.get("email")
        )
        return MemberIdentity(member_id=identifier, name=name or None, email=email or None)
