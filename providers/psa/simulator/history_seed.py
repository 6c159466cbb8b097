"""Closed tickets with their notes, as an MSP's ConnectWise accumulates them: the history
that `fixpilot connectwise import-history` learns from.

The records are in `history_tickets.json` beside this module (370 resolved or escalated
help-desk tickets written from the similar-tickets evaluation set, tests/data/similar/):
each becomes a closed ticket whose notes are the customer's description (Discussion),
what the engineers confirmed and tried (Internal, one note per fact or attempt) and the
resolution (Resolution). Ticket ids are the set's ids plus `ID_OFFSET`, clear of the demo's
tickets; the closing dates are `closed_days_ago` before now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from itertools import cycle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.psa.simulator.state import SimulatorState

ID_OFFSET = 20000
_OUTCOME_WORDS = {
    "applied_success": "Worked",
    "applied_failed": "Did not work",
    "applied_partial": "Partly worked",
    "applied_pending": "Waiting to verify",
}


def history_records() -> list[dict[str, Any]]:
    source = resources.files("providers.psa.simulator").joinpath("history_tickets.json")
    return json.loads(source.read_text(encoding="utf-8"))


def seed_history(state: SimulatorState, *, limit: int | None = None) -> list[int]:
    """Add the closed tickets (the first `limit`, by id) with their notes; their ids."""
    from providers.psa.simulator.seed import (
        CLOSED_STATUS_OFFSET,
        ESCALATIONS_BOARD_ID,
        HELP_DESK_BOARD_ID,
        status_id,
    )

    records = history_records()[:limit]
    contacts = cycle(sorted(state.contacts.values(), key=lambda c: c["id"]))
    members = cycle(sorted(m.identifier for m in state.members.values() if m.member_hash))
    ids = []
    emitting, state.emit_callbacks = state.emit_callbacks, False  # history, not news
    try:
        for record in records:
            contact, member = next(contacts), next(members)
            board_id = ESCALATIONS_BOARD_ID if record["escalated"] else HELP_DESK_BOARD_ID
            ticket = state.create_ticket(
                record["summary"],
                board_id=board_id,
                company_id=contact["company"]["id"],
                contact_id=contact["id"],
                ticket_id=record["id"] + ID_OFFSET,
                actor=member,
            )
            closed = _stamp(datetime.now(UTC) - timedelta(days=record["closed_days_ago"]))
            for body in _notes(record):
                note = state.add_note(ticket["id"], body, member)
                note["dateCreated"] = note["_info"]["lastUpdated"] = closed
            status = state.boards[board_id].status(status_id(board_id, CLOSED_STATUS_OFFSET))
            ticket.update(status=status.ref(), closedFlag=True, closedDate=closed)
            ticket["closedBy"] = member
            ticket["_info"].update(lastUpdated=closed, updatedBy=member, dateEntered=closed)
            ids.append(ticket["id"])
    finally:
        state.emit_callbacks = emitting
    return ids


def _notes(record: dict[str, Any]) -> list[dict[str, Any]]:
    notes = [{"text": record["description"], "detailDescriptionFlag": True}]
    notes += [{"text": fact, "internalAnalysisFlag": True} for fact in record["facts"]]
    for fix in record["fixes"]:
        text = f"{_OUTCOME_WORDS[fix['outcome']]}: {fix['title']}"
        if fix.get("notes"):
            text += f" ({fix['notes']})"
        notes.append({"text": text, "internalAnalysisFlag": True})
    resolution = f"Root cause: {record['root_cause']}\n\n{record['resolution']}"
    notes.append({"text": resolution, "resolutionFlag": True})
    return notes


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
