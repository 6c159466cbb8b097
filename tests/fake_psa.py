"""An in-memory PSA provider for tests, registered in the provider registry like a real one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from providers.psa import (
    Board,
    NoteKind,
    PSANote,
    PSANotFound,
    PSAStatusVerificationError,
    Ticket,
    TicketStatus,
)


@dataclass
class FakePSA:
    """A PSA with tickets, statuses and notes in memory; no callbacks, pod, set-up, history
    or knowledge base."""

    slug: str = "connectwise"
    tickets: dict[int, Ticket] = field(default_factory=dict)
    statuses: dict[int, list[TicketStatus]] = field(default_factory=dict)
    notes: list[PSANote] = field(default_factory=list)
    descriptions: dict[int, str] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_with: dict[str, Exception] = field(default_factory=dict)  # method name → error
    ignore_status_changes: bool = False
    callbacks: None = None
    pod: None = None
    setup: None = None
    history: None = None
    knowledge_base: None = None

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail_with:
            raise self.fail_with[name]

    async def get_ticket(self, ticket_id: int) -> Ticket:
        self._call("get_ticket", ticket_id)
        if ticket_id not in self.tickets:
            raise PSANotFound(f"ticket {ticket_id} not found", status=404)
        return self.tickets[ticket_id]

    async def get_description(self, ticket_id: int) -> str | None:
        self._call("get_description", ticket_id)
        return self.descriptions.get(ticket_id)

    async def list_board_statuses(self, board_id: int) -> list[TicketStatus]:
        self._call("list_board_statuses", board_id)
        return self.statuses.get(board_id, [])

    async def list_ticket_statuses(self, ticket_id: int) -> list[TicketStatus]:
        return await self.list_board_statuses((await self.get_ticket(ticket_id)).board_id)

    async def list_boards(self) -> list[Board]:
        return [Board(id=board, name=f"Board {board}") for board in self.statuses]

    async def add_note(
        self, ticket_id: int, text: str, kind: NoteKind, *, author: str | None = None
    ) -> PSANote:
        self._call("add_note", ticket_id, kind)
        note = PSANote(
            id=str(len(self.notes) + 1), ticket_id=ticket_id, text=text, kind=kind, author=author
        )
        self.notes.append(note)
        return note

    async def find_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote | None:
        self._call("find_note", ticket_id, kind)
        return next((n for n in self.notes if n.ticket_id == ticket_id and n.text == text), None)

    async def set_status(self, ticket_id: int, status_id: int) -> None:
        self._call("set_status", ticket_id, status_id)
        if self.ignore_status_changes:
            return
        ticket = self.tickets[ticket_id]
        status = next(s for s in self.statuses[ticket.board_id] if s.id == status_id)
        self.tickets[ticket_id] = Ticket(
            **{**ticket.__dict__, "status_id": status.id, "status_name": status.name}
        )

    async def verify_status(self, ticket_id: int, status_id: int) -> Ticket:
        self._call("verify_status", ticket_id, status_id)
        ticket = self.tickets[ticket_id]
        if ticket.status_id != status_id:
            actual = TicketStatus(id=ticket.status_id, name=ticket.status_name or "")
            raise PSAStatusVerificationError(
                "status not applied", expected=status_id, actual=actual
            )
        return ticket

    async def aclose(self) -> None:
        return None
