"""ConnectWise PSA provider: tickets, boards, statuses and notes, with the capabilities
ConnectWise has declared beside them (signed callbacks, the hosted pod, set-up, closed-ticket
history, the knowledge base)."""

from __future__ import annotations

import logging

import aiohttp

from providers.psa.base import (
    Board,
    NoteKind,
    PSAError,
    PSANote,
    PSANotFound,
    PSAPermissionError,
    PSAStatusVerificationError,
    PSAValidationError,
    Ticket,
    TicketStatus,
)
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig
from providers.psa.connectwise.history import ConnectWiseHistory, ConnectWiseKnowledgeBase
from providers.psa.connectwise.hosted_pod import ConnectWiseHostedPod
from providers.psa.connectwise.mapping import (
    normalise_note_text,
    note_body,
    note_has_kind,
    status_from_cw,
    ticket_from_cw,
)
from providers.psa.connectwise.setup import ConnectWiseSetup
from providers.psa.connectwise.signed_callbacks import ConnectWiseCallbacks

log = logging.getLogger(__name__)


class ConnectWiseProvider:
    slug = "connectwise"

    def __init__(self, config: ConnectWiseConfig, *, session: aiohttp.ClientSession | None = None):
        self.config = config
        self._client = ConnectWiseClient(config, session=session)
        self.callbacks = ConnectWiseCallbacks(config, self._client)
        self.pod = ConnectWiseHostedPod(config, self._client)
        self.setup = ConnectWiseSetup(config, self._client)
        self.history = ConnectWiseHistory(self._client)
        self.knowledge_base = ConnectWiseKnowledgeBase(self._client)

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- tickets and statuses -------------------------------------------------------------

    async def get_ticket(self, ticket_id: int) -> Ticket:
        response = await self._client.request("GET", f"service/tickets/{int(ticket_id)}")
        if not isinstance(response.data, dict) or "id" not in response.data:
            raise PSAError(f"ConnectWise returned no ticket for #{ticket_id}")
        return ticket_from_cw(response.data)

    async def get_description(self, ticket_id: int) -> str | None:
        """The first Detail Description note: ConnectWise stores a ticket's initial
        description there (the ticket's `initialDescription` is write-only)."""
        response = await self._client.request(
            "GET",
            f"service/tickets/{int(ticket_id)}/notes",
            params={
                "conditions": "detailDescriptionFlag=true",
                "orderBy": "id asc",
                "pageSize": 1,
            },  # fmt: skip
        )
        notes = response.data if isinstance(response.data, list) else []
        text = notes[0].get("text") if notes and isinstance(notes[0], dict) else None
        return text if isinstance(text, str) and text.strip() else None

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

    async def add_note(
        self, ticket_id: int, text: str, kind: NoteKind, *, author: str | None = None
    ) -> PSANote:
        """POST the note, attributed to `author` through ServiceNote's `member` reference.

        ConnectWise records the API member as the note's `createdBy` whatever is sent; the
        `member` is who the note is by. A member ConnectWise refuses there (unknown,
        inactive) would cost the note itself, so it is posted again without one: a refused
        POST stored nothing."""
        kind = NoteKind(kind)
        path = f"service/tickets/{int(ticket_id)}/notes"
        body = note_body(text, kind, author=author)
        try:
            response = await self._client.request("POST", path, json_body=body)
        except PSAValidationError as exc:
            if author is None or "member" not in exc.message.lower():
                raise
            log.warning("connectwise refused note author %s (%s); posted without", author, exc)
            response = await self._client.request("POST", path, json_body=note_body(text, kind))
        note = response.data if isinstance(response.data, dict) else {}
        member = note.get("member") if isinstance(note.get("member"), dict) else {}
        return PSANote(
            id=str(note.get("id", "")),
            ticket_id=int(ticket_id),
            text=text,
            kind=kind,
            author=member.get("identifier"),
        )

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

    async def list_boards(self) -> list[Board]:
        items = await self._client.paginate("service/boards")
        return [Board(id=int(b["id"]), name=str(b.get("name") or "")) for b in items if "id" in b]


def _describe(status: TicketStatus) -> str:
    return f"'{status.name}' (id {status.id})" if status.name else f"id {status.id}"
