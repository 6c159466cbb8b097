"""ConnectWise JSON ⇄ the provider-neutral types of `providers.psa.base`."""

from __future__ import annotations

from typing import Any

from providers.psa.base import NoteKind, Ticket, TicketStatus

# Which ConnectWise note flag carries each kind. Fixpilot sets exactly one of them.
NOTE_KIND_FLAG = {
    NoteKind.RESOLUTION: "resolutionFlag",
    NoteKind.INTERNAL: "internalAnalysisFlag",
    NoteKind.DISCUSSION: "detailDescriptionFlag",
}


def ticket_from_cw(data: dict[str, Any]) -> Ticket:
    """Map a ConnectWise ticket (API response or a parsed callback Entity)."""
    board = _obj(data.get("board"))
    status = _obj(data.get("status"))
    company = _obj(data.get("company"))
    contact = _obj(data.get("contact"))
    merged = data.get("mergedParentTicket")
    info = _obj(data.get("_info"))
    return Ticket(
        id=int(data["id"]),
        summary=str(data.get("summary") or ""),
        board_id=_int(board.get("id")),
        board_name=board.get("name"),
        status_id=_int(status.get("id")),
        status_name=status.get("name"),
        company_name=company.get("name"),
        contact_name=contact.get("name") or data.get("contactName"),
        closed=bool(data.get("closedFlag")),
        merged_parent_id=_int(merged.get("id")) if isinstance(merged, dict) else _int(merged),
        last_updated=info.get("lastUpdated"),
        updated_by=info.get("updatedBy"),
        closed_date=data.get("closedDate"),
        raw=data,
    )


def status_from_cw(data: dict[str, Any], board_id: int | None) -> TicketStatus:
    board = _obj(data.get("board"))
    return TicketStatus(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        board_id=_int(board.get("id")) if board else board_id,
        closed=bool(data.get("closedStatus")),
        inactive=bool(data.get("inactive")),
        default=bool(data.get("defaultFlag")),
    )


def note_body(text: str, kind: NoteKind, *, author: str | None = None) -> dict[str, Any]:
    """The POST body for a note: exactly one kind flag; never a customer-update flag, and
    ConnectWise's email rules are not run for Fixpilot's notes. `author` (a member
    identifier) becomes the note's `member` reference."""
    kind = NoteKind(kind)
    body: dict[str, Any] = {"text": text}
    body.update({flag: flag_kind == kind for flag_kind, flag in NOTE_KIND_FLAG.items()})
    body["customerUpdatedFlag"] = False
    body["processNotifications"] = False
    if author:
        body["member"] = {"identifier": author}
    return body


def note_has_kind(note: dict[str, Any], kind: NoteKind) -> bool:
    return bool(note.get(NOTE_KIND_FLAG[NoteKind(kind)]))


def normalise_note_text(text: str) -> str:
    """Compare note texts ignoring line-ending style and trailing whitespace, which
    ConnectWise may change on storage."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).rstrip()


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
