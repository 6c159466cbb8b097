"""The ConnectWise simulator's world: records, credentials, fault settings, and the ticket
operations shared by the REST handlers and by the "a human did this in ConnectWise" helpers.

Records are kept in ConnectWise's own JSON shape so handlers return them as they are.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.psa.simulator.emitter import CallbackEmitter

API_PREFIX = "/v4_6_release/apis/3.0"
SIGNING_KEY_PATH = "system/callbacks/signingkey"
HUMAN_MEMBER = "jsmith"


class SimError(Exception):
    """An API error answered in ConnectWise's shape `{"code", "message", "errors"}`."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


@dataclass
class SimStatus:
    id: int
    name: str
    closed: bool = False
    inactive: bool = False
    default: bool = False
    sort_order: int = 0

    def to_cw(self, board: SimBoard) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "board": {"id": board.id, "name": board.name},
            "sortOrder": self.sort_order,
            "displayOnBoard": not self.inactive,
            "inactive": self.inactive,
            "closedStatus": self.closed,
            "timeEntryNotAllowed": self.closed,
            "defaultFlag": self.default,
            "customerPortalFlag": True,
            "_info": {"lastUpdated": "2024-01-15T10:00:00Z", "updatedBy": "admin1"},
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "sort": self.sort_order}


@dataclass
class SimBoard:
    id: int
    name: str
    statuses: list[SimStatus] = field(default_factory=list)

    def status(self, status_id: int) -> SimStatus | None:
        return next((s for s in self.statuses if s.id == status_id), None)

    def default_status(self) -> SimStatus:
        return next((s for s in self.statuses if s.default), self.statuses[0])

    def first_closed_status(self) -> SimStatus:
        return next(s for s in self.statuses if s.closed and not s.inactive)

    def to_cw(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "location": {"id": 2, "name": "Tampa Office"},
            "department": {"id": 10, "identifier": "Services", "name": "Professional Services"},
            "inactiveFlag": False,
            "projectFlag": False,
            "_info": {"lastUpdated": "2024-01-15T10:00:00Z", "updatedBy": "admin1"},
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass
class SimMember:
    id: int
    identifier: str
    first_name: str
    last_name: str
    email: str
    member_hash: str | None = None  # what the Hosted API hands a pod for this member

    def to_cw(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifier": self.identifier,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "name": f"{self.first_name} {self.last_name}",
            "officeEmail": self.email,
            "inactiveFlag": False,
        }

    def ref(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifier": self.identifier,
            "name": f"{self.first_name} {self.last_name}",
        }


@dataclass
class InjectedFault:
    status: int
    remaining: int
    retry_after: float | None = None
    method: str | None = None  # only requests with this method, when set
    path: str | None = None  # only API paths containing this text, when set

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and (
            self.path is None or self.path in path
        )


@dataclass
class Faults:
    """Failure modes to rehearse: set from tests directly or through the `/_sim/` API."""

    queued: list[InjectedFault] = field(default_factory=list)
    latency: float = 0.0  # seconds added before every API answer
    drop_after_note_stored: int = 0  # store the next N notes, then close without answering
    down: bool = False  # close every API connection without answering

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.queued.append(InjectedFault(status, count, retry_after, method, path))

    def take(self, method: str, path: str) -> InjectedFault | None:
        for fault in self.queued:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.queued.remove(fault)
                return fault
        return None

    def reset(self) -> None:
        self.queued.clear()
        self.latency = 0.0
        self.drop_after_note_stored = 0
        self.down = False


@dataclass
class Delivery:
    """One callback POST the simulator made (for tests and the demo)."""

    url: str
    action: str
    record_id: int
    status: int | None
    error: str | None = None


@dataclass
class SimulatorState:
    company_id: str = "fixpilot_demo"
    public_key: str = "SimPublicKey0001"
    private_key: str = "SimPrivateKey0001"
    client_id: str = "7c1f8c53-2d3e-4f5a-9b6c-0d1e2f3a4b5c"
    api_member_id: str = "fixpilot_api"
    # scheme://host:port as clients reach the simulator; learned from the first request
    # when unset (callbacks sent before any request then carry no usable key_url).
    site_url: str | None = None
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    boards: dict[int, SimBoard] = field(default_factory=dict)
    members: dict[str, SimMember] = field(default_factory=dict)  # by lowercased identifier
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by ticket id
    callbacks: dict[int, dict[str, Any]] = field(default_factory=dict)
    hosted_setups: dict[int, dict[str, Any]] = field(default_factory=dict)
    signing_keys: dict[int, str] = field(default_factory=lambda: {1: secrets.token_urlsafe(32)})
    # Paths (relative to the API base) the API member may not use → 403. An entry is either
    # "system/callbacks" (any method) or "POST system/callbacks" (that method only).
    denied_paths: set[str] = field(default_factory=set)
    # A workflow rule: after a save leaves a ticket in status K, move it to status V.
    workflow_revert_status: dict[int, int] = field(default_factory=dict)
    emit_callbacks: bool = True
    faults: Faults = field(default_factory=Faults)
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, API path) received
    emitter: CallbackEmitter | None = field(default=None, repr=False)
    _next_id: int = field(default=90000, repr=False)

    @classmethod
    def demo(cls) -> SimulatorState:
        from providers.psa.simulator.seed import seed_demo

        state = cls()
        seed_demo(state)
        return state

    # --- identity and keys ---------------------------------------------------------------

    @property
    def api_url(self) -> str | None:
        return f"{self.site_url}{API_PREFIX}/" if self.site_url else None

    @property
    def current_key_id(self) -> int:
        return max(self.signing_keys)

    @property
    def signing_key(self) -> str:
        return self.signing_keys[self.current_key_id]

    def rotate_signing_key(self) -> str:
        """Start signing with a new key; the old ones stay fetchable by their key id."""
        self.signing_keys[self.current_key_id + 1] = secrets.token_urlsafe(32)
        return self.signing_key

    def key_url(self, key_id: int | None = None) -> str | None:
        if not self.api_url:
            return None
        return f"{self.api_url}{SIGNING_KEY_PATH}?keyId={key_id or self.current_key_id}"

    def member(self, identifier: str) -> SimMember | None:
        return self.members.get(identifier.lower())

    def actor_ref(self, identifier: str) -> str:
        member = self.member(identifier)
        return member.identifier if member else identifier

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- tickets: shared by the REST API and the human helpers ---------------------------

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise SimError(404, "NotFound", f"Ticket ID {ticket_id} not found")
        return ticket

    def board_of(self, ticket: dict[str, Any]) -> SimBoard:
        return self.boards[ticket["board"]["id"]]

    def create_ticket(
        self,
        summary: str,
        *,
        board_id: int,
        company_id: int,
        contact_id: int | None = None,
        actor: str = HUMAN_MEMBER,
        ticket_id: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        board = self.boards[board_id]
        company = self.companies[company_id]
        contact = self.contacts.get(contact_id) if contact_id is not None else None
        now = _now()
        ticket: dict[str, Any] = {
            "id": ticket_id or self.new_id(),
            "summary": summary,
            "recordType": "ServiceTicket",
            "board": board.ref(),
            "status": board.default_status().ref(),
            "company": {k: company[k] for k in ("id", "identifier", "name")},
            "contact": {"id": contact["id"], "name": contact["name"]} if contact else None,
            "contactName": contact["name"] if contact else None,
            "contactEmailAddress": contact["email"] if contact else None,
            "priority": {"id": 8, "name": "Priority 3 - Normal Response", "sort": 6},
            "severity": "Medium",
            "impact": "Medium",
            "source": {"id": 2, "name": "Email"},
            "owner": None,
            "closedFlag": False,
            "closedDate": None,
            "closedBy": None,
            "mergedParentTicket": None,
            "_info": {
                "lastUpdated": now,
                "updatedBy": self.actor_ref(actor),
                "dateEntered": now,
                "enteredBy": self.actor_ref(actor),
            },
        }
        ticket.update(fields)
        self.tickets[ticket["id"]] = ticket
        self.notes.setdefault(ticket["id"], [])
        self._emit("added", ticket)
        return ticket

    def patch_ticket(self, ticket_id: int, ops: Any, actor: str) -> dict[str, Any]:
        """Apply a JSON Patch the way ConnectWise does, including its quiet non-changes."""
        ticket = self.ticket(ticket_id)
        if not isinstance(ops, list) or not ops:
            raise SimError(400, "InvalidObject", "A JSON Patch array is required")
        for op in ops:
            self._apply_op(ticket, op)
        self._run_workflow_rules(ticket)
        self._touch(ticket, actor)
        self._emit("updated", ticket)
        return ticket

    def human_update(
        self,
        ticket_id: int,
        *,
        member: str = HUMAN_MEMBER,
        status_id: int | None = None,
        board_id: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A technician edits the ticket in ConnectWise (emits an `updated` callback)."""
        ticket = self.ticket(ticket_id)
        if board_id is not None:
            self._move(ticket, board_id)
        if status_id is not None:
            status = self.board_of(ticket).status(status_id)
            if status is None:
                raise ValueError(f"status {status_id} is not on the ticket's board")
            self._set_status(ticket, status)
        ticket.update(fields)
        self._run_workflow_rules(ticket)
        self._touch(ticket, member)
        self._emit("updated", ticket)
        return ticket

    def close_ticket(
        self, ticket_id: int, *, status_id: int | None = None, member: str = HUMAN_MEMBER
    ) -> dict[str, Any]:
        board = self.board_of(self.ticket(ticket_id))
        status_id = status_id or board.first_closed_status().id
        return self.human_update(ticket_id, member=member, status_id=status_id)

    def move_board(
        self, ticket_id: int, board_id: int, *, member: str = HUMAN_MEMBER
    ) -> dict[str, Any]:
        return self.human_update(ticket_id, member=member, board_id=board_id)

    def merge_ticket(
        self, child_id: int, parent_id: int, *, member: str = HUMAN_MEMBER
    ) -> dict[str, Any]:
        """Merge `child_id` into `parent_id`: the child is closed and points at its parent."""
        parent = self.ticket(parent_id)
        child = self.ticket(child_id)
        child["mergedParentTicket"] = {"id": parent["id"], "summary": parent["summary"]}
        closed = next(
            (s for s in self.board_of(child).statuses if s.closed and s.name == "Closed"),
            self.board_of(child).first_closed_status(),
        )
        return self.human_update(child_id, member=member, status_id=closed.id)

    def delete_ticket(self, ticket_id: int, *, member: str = HUMAN_MEMBER) -> None:
        ticket = self.ticket(ticket_id)
        del self.tickets[ticket_id]
        self.notes.pop(ticket_id, None)
        self._touch(ticket, member)
        self._emit("deleted", ticket)

    def add_note(self, ticket_id: int, body: Any, actor: str) -> dict[str, Any]:
        ticket = self.ticket(ticket_id)
        if not isinstance(body, dict) or not str(body.get("text") or "").strip():
            raise SimError(
                400,
                "InvalidObject",
                "ticketNote object is invalid",
                [{"code": "NullValue", "message": "text may not be empty", "field": "text"}],
            )
        flags = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
        if not any(body.get(flag) for flag in flags):
            raise SimError(
                400,
                "InvalidObject",
                "At least one of Discussion, Internal or Resolution must be selected",
            )
        now = _now()
        member = self.member(actor)
        note = {
            "id": self.new_id(),
            "ticketId": ticket_id,
            "text": str(body["text"]),
            **{flag: bool(body.get(flag)) for flag in flags},
            "issueFlag": False,
            "customerUpdatedFlag": bool(body.get("customerUpdatedFlag")),
            "processNotifications": bool(body.get("processNotifications")),
            "member": member.ref() if member else {"identifier": actor},
            "dateCreated": now,
            "createdBy": self.actor_ref(actor),
            "internalFlag": bool(body.get("internalAnalysisFlag")),
            "externalFlag": bool(body.get("resolutionFlag") or body.get("detailDescriptionFlag")),
            "_info": {"lastUpdated": now, "updatedBy": self.actor_ref(actor)},
        }
        self.notes.setdefault(ticket_id, []).append(note)
        # A note saves the ticket too, so ConnectWise reports it as an update of the ticket.
        self._touch(ticket, actor)
        self._emit("updated", ticket)
        return note

    # --- callbacks and hosted setups -----------------------------------------------------

    def add_callback(self, body: Any) -> dict[str, Any]:
        required = ("url", "type", "level")
        if not isinstance(body, dict) or any(not body.get(k) for k in required):
            raise SimError(400, "InvalidObject", "callback requires url, type and level")
        key = _callback_key(body)
        if any(_callback_key(cb) == key for cb in self.callbacks.values()):
            raise SimError(
                400,
                "ObjectExists",
                "A callback with this url, type, level and objectId already exists",
            )
        callback = {
            "id": self.new_id(),
            "description": body.get("description") or "",
            "url": body["url"],
            "objectId": int(body.get("objectId") or 1),
            "type": body["type"],
            "level": body["level"],
            "memberId": self.member(self.api_member_id).id
            if self.member(self.api_member_id)
            else None,
            "payloadVersion": body.get("payloadVersion"),
            "inactiveFlag": bool(body.get("inactiveFlag")),
            "isSoapCallbackFlag": False,
            "isSelfSuppressedFlag": False,
            "_info": {"lastUpdated": _now(), "updatedBy": self.api_member_id},
        }
        self.callbacks[callback["id"]] = callback
        return callback

    def callback(self, callback_id: int) -> dict[str, Any]:
        if callback_id not in self.callbacks:
            raise SimError(404, "NotFound", f"Callback ID {callback_id} not found")
        return self.callbacks[callback_id]

    def add_hosted_setup(self, body: Any) -> dict[str, Any]:
        required = ("description", "screenId", "url", "type")
        if not isinstance(body, dict) or any(not body.get(k) for k in required):
            raise SimError(
                400, "InvalidObject", "hosted setup requires description, screenId, url, type"
            )
        for existing in self.hosted_setups.values():
            if existing["screenId"] == body["screenId"] and existing["url"] == body["url"]:
                raise SimError(400, "ObjectExists", "This hosted API setup already exists")
        setup = {"id": self.new_id(), **copy.deepcopy(body)}
        setup["_info"] = {"lastUpdated": _now(), "updatedBy": self.api_member_id}
        self.hosted_setups[setup["id"]] = setup
        return setup

    async def drain_callbacks(self) -> None:
        """Wait until every callback POST started so far has finished (for tests)."""
        if self.emitter is not None:
            await self.emitter.drain()

    # --- internals ------------------------------------------------------------------------

    def _apply_op(self, ticket: dict[str, Any], op: Any) -> None:
        if not isinstance(op, dict) or op.get("op") not in ("replace", "add"):
            raise SimError(400, "InvalidObject", "Only replace and add operations are supported")
        path = str(op.get("path") or "").strip("/")
        value = op.get("value")
        if not path or "/" in path or path in ("id", "_info"):
            return  # ConnectWise answers 200 for a sub-path patch without applying it
        if path == "board":
            board_id = value.get("id") if isinstance(value, dict) else None
            if board_id not in self.boards:
                raise SimError(
                    400,
                    "InvalidObject",
                    "serviceTicket object is invalid",
                    [{"code": "InvalidValue", "message": "Board not found", "field": "board"}],
                )
            self._move(ticket, board_id)
        elif path == "status":
            status = self._resolve_status(self.board_of(ticket), value)
            if status is not None:  # another board's status: 200, and nothing happens
                self._set_status(ticket, status)
        else:
            ticket[path] = copy.deepcopy(value)

    @staticmethod
    def _resolve_status(board: SimBoard, value: Any) -> SimStatus | None:
        if not isinstance(value, dict):
            return None
        if "id" in value:
            return board.status(value["id"])
        name = str(value.get("name") or "").lower()
        return next((s for s in board.statuses if s.name.lower() == name), None)

    def _move(self, ticket: dict[str, Any], board_id: int) -> None:
        board = self.boards[board_id]
        ticket["board"] = board.ref()
        self._set_status(ticket, board.default_status())

    def _set_status(self, ticket: dict[str, Any], status: SimStatus) -> None:
        ticket["status"] = status.ref()
        ticket["closedFlag"] = status.closed
        ticket["closedDate"] = _now() if status.closed else None

    def _run_workflow_rules(self, ticket: dict[str, Any]) -> None:
        target = self.workflow_revert_status.get(ticket["status"]["id"])
        status = self.board_of(ticket).status(target) if target is not None else None
        if status is not None:
            self._set_status(ticket, status)

    def _touch(self, ticket: dict[str, Any], actor: str) -> None:
        ticket["_info"]["lastUpdated"] = _now()
        ticket["_info"]["updatedBy"] = self.actor_ref(actor)
        if ticket.get("closedFlag"):
            ticket["closedBy"] = ticket.get("closedBy") or self.actor_ref(actor)
        else:
            ticket["closedBy"] = None

    def _emit(self, action: str, ticket: dict[str, Any]) -> None:
        if self.emit_callbacks and self.emitter is not None:
            self.emitter.emit(action, ticket)


def matching_callbacks(
    callbacks: Iterable[dict[str, Any]], ticket: dict[str, Any]
) -> list[dict[str, Any]]:
    """Active ticket callbacks whose level and object id cover this ticket."""
    object_for_level = {
        "owner": None,
        "board": ticket["board"]["id"],
        "status": ticket["status"]["id"],
        "ticket": ticket["id"],
        "company": (ticket.get("company") or {}).get("id"),
    }
    found = []
    for cb in callbacks:
        level = str(cb.get("level") or "").lower()
        if cb.get("inactiveFlag") or str(cb.get("type") or "").lower() != "ticket":
            continue
        if level not in object_for_level:
            continue
        if level == "owner" or object_for_level[level] == cb.get("objectId"):
            found.append(cb)
    return found


def _callback_key(body: dict[str, Any]) -> tuple[str, str, str, int]:
    return (
        str(body.get("url")),
        str(body.get("type")).lower(),
        str(body.get("level")).lower(),
        int(body.get("objectId") or 1),
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
