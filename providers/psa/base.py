"""The PSA capability: what Fixpilot needs from a professional-services-automation tool.

One interface, one package per vendor (`providers.psa.connectwise`), a local provider for
sessions that have no PSA ticket. Errors are typed so the service can decide between
retrying, queueing and reporting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    closed_date: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PSANote:
    id: str
    ticket_id: int
    text: str
    kind: NoteKind
    author: str | None = None  # the PSA member the PSA attributes the note to, when known


@dataclass(frozen=True)
class ClosedTicket:
    """A closed ticket with its notes, as history to learn from."""

    ticket: Ticket
    closed_at: datetime
    notes: list[PSANote] = field(default_factory=list)


@dataclass(frozen=True)
class MemberIdentity:
    """A PSA member whose identity the PSA itself confirmed."""

    member_id: str
    name: str | None = None
    email: str | None = None
    verified_by: str | None = None  # how the PSA confirmed them, e.g. "cookie" or "basic"


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


@dataclass(frozen=True)
class Board:
    id: int
    name: str


class CallbackParseError(ValueError):
    """The body is not one of the PSA's callbacks. `message` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CallbackEnvelope:
    """One callback delivery, parsed: the record it is about and how to check its signature."""

    record_id: int | None
    action: str  # lowercased: "added", "updated", "deleted"
    type: str  # lowercased: "ticket", "company", ...
    entity: dict[str, Any] | None
    key_url: str | None
    message_id: str | None = None
    from_url: str | None = None
    company_id: str | None = None
    member_id: str | None = None
    product_instance_id: str | None = None
    partner_id: str | None = None


# --- capabilities ------------------------------------------------------------------------
# Every provider is a `PSAProvider` (tickets, notes, statuses, boards). The other
# capabilities are declared by the provider as attributes, None when it lacks them, so the
# service asks `provider.callbacks is None` instead of probing for methods.


class CallbackSource(Protocol):
    """Signed callbacks whose signing key is fetched from a URL named in the body."""

    signature_header: str  # the request header that carries the signature

    def parse(self, raw: bytes) -> CallbackEnvelope:
        """The callback in `raw`; CallbackParseError when it is not one."""

    def dedupe_key(self, envelope: CallbackEnvelope, raw: bytes) -> str: ...

    def key_url_allowed(self, key_url: str | None) -> bool:
        """Whether `key_url` is on this account's own PSA hosts (never fetch any other)."""

    async def get_signing_key(self, key_url: str) -> str: ...

    def signature_well_formed(self, signature: str | None) -> bool:
        """A cheap structural check of the signature header, before any key is fetched."""

    def verify_signature(self, raw: bytes, signature: str | None, signing_key: str) -> bool: ...

    def ticket_from_record(self, record: dict[str, Any]) -> Ticket: ...

    def is_own_echo(self, record: dict[str, Any]) -> bool:
        """True when a callback record shows a change made by this integration itself."""


class HostedPod(Protocol):
    """A page embedded in the PSA's ticket screen, whose members the PSA vouches for."""

    def frame_origins(self) -> list[str]:
        """The origins the PSA shows its screens on (allowed to frame the pod)."""

    async def verify_member(
        self, member_id: str, member_hash: str, member_context: str | None = None
    ) -> MemberIdentity:
        """Ask the PSA who this member is. PSAAuthError when it does not confirm them."""


class PSASetup(Protocol):
    """Registering callbacks and hosted pods, and checking the connection (install, doctor)."""

    company_id: str
    api_url: str
    client_id: str

    async def company_info(self) -> dict[str, Any]: ...

    async def probe(self, path: str) -> Any:
        """GET one item of an endpoint, to check the API member may use it."""

    async def list_callbacks(self) -> list[dict[str, Any]]: ...

    async def create_callback(
        self, url: str, type: str, level: str, object_id: int, description: str
    ) -> dict[str, Any]: ...

    async def update_callback(
        self, callback_id: int, *, inactive: bool = False
    ) -> dict[str, Any]: ...

    async def list_hosted_screens(self) -> list[dict[str, Any]]:
        """The screens a hosted page can be put on: `{"id", "name", ...}` each."""

    async def list_hosted_setups(self) -> list[dict[str, Any]]: ...

    async def create_hosted_setup(
        self,
        *,
        description: str,
        screen_id: int,
        url: str,
        origin: str,
        type: str = "Pod",
        pod_height: int | None = None,
    ) -> dict[str, Any]:
        """Register a hosted page on a screen, for this integration (its clientId)."""


class TicketHistory(Protocol):
    """Closed tickets and their notes, read in pages ordered by id (a resumable cursor)."""

    page_size: int

    async def count_closed(self, since: datetime, board_id: int | None) -> int:
        """How many tickets closed and last updated since `since` (on the board, if given)."""

    async def closed_tickets(
        self, since: datetime, board_id: int | None, after_id: int
    ) -> list[Ticket]:
        """The next page of those tickets with an id above `after_id`, by ascending id."""

    async def ticket_notes(self, ticket_id: int) -> list[PSANote]: ...


class KnowledgeBase(Protocol):
    """The PSA's internal knowledge base."""

    async def add_article(self, title: str, issue: str, resolution: str) -> str:
        """Create an article; its id in the PSA."""

    async def find_article(self, title: str, issue: str) -> str | None:
        """An existing article with exactly this title and issue (to avoid posting twice)."""


@runtime_checkable
class PSAProvider(Protocol):
    """What every PSA gives Fixpilot: tickets, boards and their statuses, notes."""

    slug: str
    callbacks: CallbackSource | None
    pod: HostedPod | None
    setup: PSASetup | None
    history: TicketHistory | None
    knowledge_base: KnowledgeBase | None

    async def get_ticket(self, ticket_id: int) -> Ticket: ...

    async def get_description(self, ticket_id: int) -> str | None:
        """What the ticket says the problem is, as its contact or the engineer wrote it (in
        ConnectWise: the first Detail Description note); None when it has none."""

    async def list_boards(self) -> list[Board]: ...

    async def list_board_statuses(self, board_id: int) -> list[TicketStatus]: ...

    async def list_ticket_statuses(self, ticket_id: int) -> list[TicketStatus]:
        """The statuses of the board the ticket is on now."""

    async def add_note(
        self, ticket_id: int, text: str, kind: NoteKind, *, author: str | None = None
    ) -> PSANote:
        """Post a note. `author`: the PSA member who wrote it (a pod member's id), recorded
        on the note where the PSA allows it; the note is posted either way."""

    async def find_note(self, ticket_id: int, text: str, kind: NoteKind) -> PSANote | None:
        """An existing note with exactly this text and kind (to avoid posting twice)."""

    async def set_status(self, ticket_id: int, status_id: int) -> None:
        """Request the status change. Does not prove it happened: call verify_status."""

    async def verify_status(self, ticket_id: int, status_id: int) -> Ticket:
        """Re-fetch the ticket; raise PSAStatusVerificationError unless it has the status."""

    async def aclose(self) -> None: ...
