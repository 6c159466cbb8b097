"""ConnectWise PSA provider: the `PSAProvider` interface plus the set-up calls that the
install and doctor commands need (callbacks, hosted pods, signing keys)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from providers.psa.base import (
    MemberIdentity,
    NoteKind,
    PSAAuthError,
    PSAError,
    PSANote,
    PSANotFound,
    PSAPermissionError,
    PSAStatusVerificationError,
    PSAValidationError,
    Ticket,
    TicketStatus,
)
from providers.psa.connectwise.callbacks import key_url_allowed
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig, basic_authorization
from providers.psa.connectwise.mapping import (
    normalise_note_text,
    note_body,
    note_has_kind,
    status_from_cw,
    ticket_from_cw,
)

log = logging.getLogger(__name__)


class ConnectWiseProvider:
    slug = "connectwise"

    def __init__(self, config: ConnectWiseConfig, *, session: aiohttp.ClientSession | None = None):
        self.config = config
        self._client = ConnectWiseClient(config, session=session)

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- tickets and statuses -------------------------------------------------------------

    async def get_ticket(self, ticket_id: int) -> Ticket:
        response = await self._client.request("GET", f"service/tickets/{int(ticket_id)}")
        if not isinstance(response.data, dict) or "id" not in response.data:
            raise PSAError(f"ConnectWise returned no ticket for #{ticket_id}")
        return ticket_from_cw(response.data)

    async def list_board_statuses(self, board_id: int) -> list[TicketStatus]:
        items = await self._client.paginate(f"service/boards/{int(board_id)}/statuses")
        items.sort(key=lambda s: (s.get("sortOrder") or 0, s.get("id") or 0))
        return [status_from_cw(item, int(board_id)) for item in items]

    async def list_ticket_statuses(self, ticket_id: int) -> list[TicketStatus]:
        ticket = await self.get_ticket(ticket_id)
        if ticket.board_id is None:
            return []
        return await self.list_board_statuses(ticket.board_id)

    async def set_status(self, ticket_id: int, status_id: int) -> None:
        # Replace the whole status object: patching "status/id" can answer 200 and do nothing.
        patch = [{"op": "replace", "path": "status", "value": {"id": int(status_id)}}]
        await self._client.request("PATCH", f"service/tickets/{int(ticket_id)}", json_body=patch)

    async def verify_status(self, ticket_id: int, status_id: int) -> Ticket:
        ticket = await self.get_ticket(ticket_id)
        actual = TicketStatus(
            id=ticket.status_id or 0,
            name=ticket.status_name or "",
            board_id=ticket.board_id,
            closed=ticket.closed,
        )
        if ticket.status_id != int(status_id):
            raise PSAStatusVerificationError(
                f"ConnectWise ticket #{ticket_id} is in status {_describe(actual)}, "
                f"not status id {status_id}",
                expected=int(status_id),
                actual=actual,
            )
        expected = await self._board_status(ticket.board_id, int(status_id))
        if expected is not None and expected.closed and not ticket.closed:
            raise PSAStatusVerificationError(
                f"ConnectWise ticket #{ticket_id} has status {_describe(actual)} but is not closed",
                expected=expected,
                actual=actual,
            )
        return ticket

    async def _board_status(self, board_id: int | None, status_id: int) -> TicketStatus | None:
        """The board's definition of a status, or None when it can't be read (the status id
        already matched, so a missing permission to list statuses doesn't fail the check)."""
        if board_id is None:
            return None
        try:
            statuses = await self.list_board_statuses(board_id)
        except (PSANotFound, PSAPermissionError) as exc:
            log.warning("cannot list board statuses to check closedFlag: %s", exc.message)
            return None
        return next((s for s in statuses if s.id == status_id), None)

    # --- notes ----------------------------------------------------------------------------

    async def add_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote:
        kind = NoteKind(kind)
        response = await self._client.request(
            "POST", f"service/tickets/{int(ticket_id)}/notes", json_body=note_body(text, kind)
        )
        note = response.data if isinstance(response.data, dict) else {}
        return PSANote(id=str(note.get("id", "")), ticket_id=int(ticket_id), text=text, kind=kind)

    async def find_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote | None:
        kind = NoteKind(kind)
        wanted = normalise_note_text(text)
        notes = await self._client.paginate(f"service/tickets/{int(ticket_id)}/notes")
        for note in notes:
            stored = note.get("text")
            if (
                isinstance(stored, str)
                and note_has_kind(note, kind)
                and normalise_note_text(stored) == wanted
            ):
                return PSANote(
                    id=str(note.get("id")), ticket_id=int(ticket_id), text=stored, kind=kind
                )
        return None

    # --- members and echoes ---------------------------------------------------------------

    async def verify_member(self, member_id: str, member_hash: str) -> MemberIdentity:
        member_id = (member_id or "").strip()
        if not member_id or not member_hash or ":" in member_id:
            raise PSAAuthError("member id and member hash are required")
        authorization = basic_authorization(self.config.company_id, member_id, member_hash)
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

    def is_own_echo(self, entity: dict[str, Any]) -> bool:
        info = entity.get("_info") if isinstance(entity, dict) else None
        updated_by = info.get("updatedBy") if isinstance(info, dict) else None
        if not isinstance(updated_by, str) or not updated_by.strip():
            return False
        own = {self.config.public_key.lower()}
        if self.config.api_member_id:
            own.add(self.config.api_member_id.lower())
        return updated_by.strip().lower() in own

    # --- set-up: callbacks, hosted pods, signing keys, site -------------------------------

    async def list_callbacks(self) -> list[dict[str, Any]]:
        return await self._client.paginate("system/callbacks")

    async def create_callback(
        self, url: str, type: str, level: str, object_id: int, description: str
    ) -> dict[str, Any]:
        """Register a callback; an identical registration that already exists is returned."""
        body = {
            "url": url,
            "type": type,
            "level": level,
            "objectId": int(object_id),
            "description": description,
            "inactiveFlag": False,
        }
        try:
            response = await self._client.request("POST", "system/callbacks", json_body=body)
        except PSAValidationError as exc:
            if exc.code != "ObjectExists":
                raise
            existing = _matching_callback(await self.list_callbacks(), body)
            if existing is None:
                raise
            return existing
        return response.data

    async def update_callback(self, callback_id: int, *, inactive: bool = False) -> dict[str, Any]:
        patch = [{"op": "replace", "path": "inactiveFlag", "value": bool(inactive)}]
        response = await self._client.request(
            "PATCH", f"system/callbacks/{int(callback_id)}", json_body=patch
        )
        return response.data

    async def list_hosted_setups(self) -> list[dict[str, Any]]:
        return await self._client.paginate("system/connectwisehostedsetups")

    async def create_hosted_setup(
        self,
        *,
        description: str,
        screen_id: int,
        url: str,
        origin: str,
        type: str = "Pod",
        pod_height: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "description": description,
            "screenId": int(screen_id),
            "url": url,
            "origin": origin,
            "type": type,
            **({"podHeight": int(pod_height)} if pod_height is not None else {}),
            **(extra or {}),
        }
        response = await self._client.request(
            "POST", "system/connectwisehostedsetups", json_body=body
        )
        return response.data

    async def get_signing_key(self, key_url: str) -> str:
        """Fetch a callback signing key. Refuses any URL off the account's API host."""
        if not key_url_allowed(key_url, self.config.api_url):
            raise PSAValidationError("callback key_url is not on this account's ConnectWise host")
        response = await self._client.request("GET", key_url)
        data = response.data if isinstance(response.data, dict) else {}
        key = {k.lower(): v for k, v in data.items()}.get("signing_key")
        if not isinstance(key, str) or not key:
            raise PSAError("ConnectWise returned no signing key")
        return key

    async def list_boards(self) -> list[dict[str, Any]]:
        return await self._client.paginate("service/boards")

    async def company_info(self) -> dict[str, Any]:
        """`GET {site}/login/companyinfo/{companyId}`: the site's codebase and version."""
        url = f"{self.config.site_url}/login/companyinfo/{self.config.company_id}"
        response = await self._client.request("GET", url)
        return response.data if isinstance(response.data, dict) else {}


def _matching_callback(callbacks: list[dict[str, Any]], wanted: dict[str, Any]) -> dict | None:
    def key(cb: dict[str, Any]) -> tuple[str, str, str, int | None]:
        object_id = cb.get("objectId")
        return (
            str(cb.get("url") or ""),
            str(cb.get("type") or "").lower(),
            str(cb.get("level") or "").lower(),
            int(object_id) if object_id is not None else None,
        )

    return next((cb for cb in callbacks if key(cb) == key(wanted)), None)


def _describe(status: TicketStatus) -> str:
    return f"'{status.name}' (id {status.id})" if status.name else f"id {status.id}"
