"""Ticket and note operations, shared by the REST handlers (as the caller authenticated) and
by the "a technician did this in ConnectWise" helpers that tests and the demo use.

`TicketOperations` is a mixin of `SimulatorState`: it works on the state's `tickets`,
`notes`, `boards`, `companies`, `contacts` and `members`, and emits callbacks through it.
It reproduces ConnectWise's quiet non-changes: a status from another board or a sub-path
patch answers 200 and changes nothing; a workflow rule may move the status after a save.
"""

from __future__ import annotations

import copy
from typing import Any

from providers.psa.simulator.records import (
    HUMAN_MEMBER,
    SimBoard,
    SimError,
    SimMember,
    SimStatus,
    invalid_object,
    now,
)

_NOTE_KIND_FLAGS = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")


class TicketOperations:
    # --- reading -------------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise SimError(404, "NotFound", f"Ticket ID {ticket_id} not found")
        return ticket

    def board_of(self, ticket: dict[str, Any]) -> SimBoard:
        return self.boards[ticket["board"]["id"]]

    # --- writing ---------------------------------------------------------------------------

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
        stamp = now()
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
                "lastUpdated": stamp,
                "updatedBy": self.actor_ref(actor),
                "dateEntered": stamp,
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
            raise invalid_object("ticketNote", "NullValue", "text", "text may not be empty")
        if not any(body.get(flag) for flag in _NOTE_KIND_FLAGS):
            raise SimError(
                400,
                "InvalidObject",
                "At least one of Discussion, Internal or Resolution must be selected",
            )
        stamp = now()
        member = self._note_member(body.get("member"), actor)
        note = {
            "id": self.new_id(),
            "ticketId": ticket_id,
            "text": str(body["text"]),
            **{flag: bool(body.get(flag)) for flag in _NOTE_KIND_FLAGS},
            "issueFlag": False,
            "customerUpdatedFlag": bool(body.get("customerUpdatedFlag")),
            "processNotifications": bool(body.get("processNotifications")),
            "member": member.ref() if member else {"identifier": actor},
            "dateCreated": stamp,
            "createdBy": self.actor_ref(actor),
            "internalFlag": bool(body.get("internalAnalysisFlag")),
            "externalFlag": bool(body.get("resolutionFlag") or body.get("detailDescriptionFlag")),
            "_info": {"lastUpdated": stamp, "updatedBy": self.actor_ref(actor)},
        }
        self.notes.setdefault(ticket_id, []).append(note)
        # A note saves the ticket too, so ConnectWise reports it as an update of the ticket.
        self._touch(ticket, actor)
        self._emit("updated", ticket)
        return note

    # --- internals ---------------------------------------------------------------------------

    def _note_member(self, reference: Any, actor: str) -> SimMember | None:
        """Who a note is by: the body's `member` reference (by identifier or id) when given,
        else the caller. `createdBy` stays the caller: only the member can be set."""
        if reference is None:
            return self.member(actor)
        wanted = reference if isinstance(reference, dict) else {}
        member = next(
            (
                m
                for m in self.members.values()
                if m.identifier.lower() == str(wanted.get("identifier", "")).lower()
                or m.id == wanted.get("id")
            ),
            None,
        )
        if member is None:
            raise invalid_object("serviceNote", "InvalidValue", "member", "Member not found.")
        return member

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
                raise invalid_object("serviceTicket", "InvalidValue", "board", "Board not found")
            self._move(ticket, board_id)
        elif path == "status":
            status = _resolve_status(self.board_of(ticket), value)
            if status is not None:  # another board's status: 200, and nothing happens
                self._set_status(ticket, status)
        else:
            ticket[path] = copy.deepcopy(value)

    def _move(self, ticket: dict[str, Any], board_id: int) -> None:
        board = self.boards[board_id]
        ticket["board"] = board.ref()
        self._set_status(ticket, board.default_status())

    def _set_status(self, ticket: dict[str, Any], status: SimStatus) -> None:
        ticket["status"] = status.ref()
        ticket["closedFlag"] = status.closed
        ticket["closedDate"] = now() if status.closed else None

    def _run_workflow_rules(self, ticket: dict[str, Any]) -> None:
        target = self.workflow_revert_status.get(ticket["status"]["id"])
        status = self.board_of(ticket).status(target) if target is not None else None
        if status is not None:
            self._set_status(ticket, status)

    def _touch(self, ticket: dict[str, Any], actor: str) -> None:
        ticket["_info"]["lastUpdated"] = now()
        ticket["_info"]["updatedBy"] = self.actor_ref(actor)
        if ticket.get("closedFlag"):
            ticket["closedBy"] = ticket.get("closedBy") or self.actor_ref(actor)
        else:
            ticket["closedBy"] = None

    def _emit(self, action: str, ticket: dict[str, Any]) -> None:
        if self.emit_callbacks and self.emitter is not None:
            self.emitter.emit(action, ticket)


def _resolve_status(board: SimBoard, value: Any) -> SimStatus | None:
    if not isinstance(value, dict):
        return None
    if "id" in value:
        return board.status(value["id"])
    name = str(value.get("name") or "").lower()
    return next((s for s in board.statuses if s.name.lower() == name), None)
