"""The provider for sessions that have no PSA ticket.

The service resolves and escalates such sessions locally and never calls the ticket methods;
if it does by mistake, they fail loudly with PSANotFound instead of pretending to succeed.
"""

from __future__ import annotations

from typing import NoReturn

from providers.psa.base import Board, NoteKind, PSANote, PSANotFound, Ticket, TicketStatus


class LocalProvider:
    slug = "local"
    callbacks = None
    pod = None
    setup = None
    history = None
    knowledge_base = None

    def _no_psa(self, what: str) -> NoReturn:
        raise PSANotFound(f"{what}: this session is not linked to a PSA ticket", code="no_psa")

    async def get_ticket(self, ticket_id: int) -> Ticket:
        self._no_psa(f"ticket #{ticket_id}")

    async def list_boards(self) -> list[Board]:
        self._no_psa("boards")

    async def list_board_statuses(self, board_id: int) -> list[TicketStatus]:
        self._no_psa("board statuses")

    async def list_ticket_statuses(self, ticket_id: int) -> list[TicketStatus]:
        self._no_psa("ticket statuses")

    async def add_note(
        self, ticket_id: int, text: str, kind: NoteKind, *, author: str | None = None
    ) -> PSANote:
        self._no_psa("add note")

    async def get_description(self, ticket_id: int) -> str | None:
        self._no_psa("read ticket")

    async def find_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote | None:
        self._no_psa("find note")

    async def set_status(self, ticket_id: int, status_id: int) -> None:
        self._no_psa("set status")

    async def verify_status(self, ticket_id: int, status_id: int) -> Ticket:
        self._no_psa("verify status")

    async def aclose(self) -> None:
        return None
