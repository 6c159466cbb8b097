"""The PSA capability: what Fixpilot needs from a professional-services-automation tool.

One interface, one package per vendor (`providers.psa.connectwise`), a local provider for
sessions that have no PSA ticket. Errors are typed so the service can decide between
retrying, queueing and reporting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class NoteKind(StrEnum):
    RESOLUTION = "resolution"  # customer-visible resolution note
    INTERNAL = "internal"  # technicians only (internal analysis)
    DISCUSSION = "discussion"


@dataclass(frozen=True)
class TicketStatus:
    id: int
    name: str
    board_id: int | None = None
    closed: bool = False
    inactive: bool = False
    default: bool = False


@dataclass(frozen=True)
class Ticket:
    id: int
    summary: str
    board_id: int | None
    board_name: str | None
    status_id: int | None
    status_name: str | None
    company_name: str | None = None
    contact_name: str | None = None
    closed: bool = False
    merged_parent_id: int | None = None
    last_updated: str | None = None
    updated_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PSANote:
    id: str
    ticket_id: int
    text: str
    kind: NoteKind


@dataclass(frozen=True)
class MemberIdentity:
    """A PSA member whose identity the PSA itself confirmed."""

    member_id: str
    name: str | None = None
    email: str | None = None


class PSAError(Exception):
    """Any failure talking to the PSA. `message` is safe to show (no secrets)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class PSANotFound(PSAError):
    pass


class PSAAuthError(PSAError):
    """Bad credentials or clientId (401)."""


class PSAPermissionError(PSAError):
    """The API member lacks a permission (403)."""


class PSAValidationError(PSAError):
    """The PSA rejected the request's content (400/422-like); retrying will not help."""


class PSARateLimited(PSAError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PSAUnavailable(PSAError):
    """Unreachable, timing out or 5xx after retries: the operation may be queued for later.

    `uncertain` is True when the request may have been applied before the failure
    (e.g. the connection dropped after the body was sent).
    """

    def __init__(self, message: str, *, uncertain: bool = False, **kw: Any):
        super().__init__(message, **kw)
        self.uncertain = uncertain


class PSAStatusVerificationError(PSAError):
    """The PSA accepted a status change but the re-fetched ticket shows another status."""

    def __init__(self, message: str, *, expected: TicketStatus | int, actual: TicketStatus | None):
        super().__init__(message, code="status_not_applied")
        self.expected = expected
        self.actual = actual


@runtime_checkable
class PSAProvider(Protocol):
    slug: str

    async def get_ticket(self, ticket_id: int) -> Ticket: ...

    async def list_board_statuses(self, board_id: int) -> list[TicketStatus]: ...

    async def list_ticket_statuses(self, ticket_id: int) -> list[TicketStatus]:
        """The statuses of the board the ticket is on now."""

    async def add_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote: ...

    async def find_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote | None:
        """An existing note with exactly this text and kind (to avoid posting twice)."""

    async def set_status(self, ticket_id: int, status_id: int) -> None:
        """Request the status change. Does not prove it happened: call verify_status."""

    async def verify_status(self, ticket_id: int, status_id: int) -> Ticket:
        """Re-fetch the ticket; raise PSAStatusVerificationError unless it has the status."""

    async def verify_member(self, member_id: str, member_hash: str) -> MemberIdentity:
        """Ask the PSA who this member is (pod authentication). PSAAuthError when not."""

    def is_own_echo(self, entity: dict[str, Any]) -> bool:
        """True when a callback entity records a change made by this integration itself."""

    async def aclose(self) -> None: ...
