"""What one stored ticket callback does: the ticket snapshot, the linked AI sessions, and
sessions opened automatically for new tickets on chosen boards.

Two steps so no PSA call happens inside a database transaction: `prepare` turns the stored
event into a `TicketChange` (fetching the ticket only when ConnectWise sent no Entity), and
`apply` writes its effects in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.accounts.models import Account
from plugin.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.sessions.models import AISession
from plugin.sessions.service import bump_state_version
from providers.psa.base import PSANotFound, PSAProvider, Ticket
from providers.psa.connectwise import ticket_from_cw

ChangeKind = Literal["ticket", "deleted", "ignored"]
CONTEXT_FIELDS = (
    "summary",
    "board_id",
    "board_name",
    "status_id",
    "status_name",
    "company_name",
    "contact_name",
    "closed",
    "merged_parent_id",
)
AUTO_OPENED_BY = "connectwise"


@dataclass(frozen=True)
class TicketChange:
    kind: ChangeKind
    ticket_id: int | None
    ticket: Ticket | None = None
    is_new: bool = False  # ConnectWise said "added"
    reason: str | None = None  # why it is ignored


@dataclass(frozen=True)
class Outcome:
    status: Literal["done", "ignored"]
    note: str | None = None


# --- pure decisions -------------------------------------------------------------------------


def ticket_context(ticket: Ticket) -> dict[str, Any]:
    """The session's view of its ticket (TicketInfo without the id)."""
    return {name: getattr(ticket, name) for name in CONTEXT_FIELDS}


def reflected_state(
    *,
    previous_state: str | None,
    previous_board_id: int | None,
    ticket: Ticket | None,
    session_active: bool,
) -> str:
    """What happened to a session's ticket outside Fixpilot, after this change.

    `ticket` None means deleted. Own echoes never get here. A ticket closed while the session
    is still active was closed by someone else; once Fixpilot resolved or escalated the
    session, a closed ticket is expected and changes nothing."""
    if ticket is None:
        return "deleted"
    if ticket.merged_parent_id is not None:
        return "merged"
    if ticket.closed:
        return "closed_outside" if session_active else previous_state or "open"
    if previous_board_id is not None and ticket.board_id != previous_board_id:
        return "moved_board"
    if previous_state in ("closed_outside", "merged", "deleted"):
        return "open"  # reopened
    return previous_state or "open"


def is_stale(ticket: Ticket, snapshot_last_updated: str | None) -> bool:
    """An event older than the snapshot (out-of-order delivery or a late retry)."""
    new, old = _timestamp(ticket.last_updated), _timestamp(snapshot_last_updated)
    return new is not None and old is not None and new < old


def _timestamp(value: object) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def auto_open_boards(account: Account) -> set[int]:
    boards = (account.preferences or {}).get("auto_open_boards") or []
    return {int(b) for b in boards if isinstance(b, int | float) and float(b).is_integer()}


# --- step 1: prepare (may call the PSA) -----------------------------------------------------


async def prepare(event: PSACallbackEvent, provider: PSAProvider) -> TicketChange:
    payload = event.payload or {}
    ticket_id = event.record_id
    if event.event_type != "ticket":
        return TicketChange("ignored", ticket_id, reason=f"type {event.event_type!r} not handled")
    if ticket_id is None:
        return TicketChange("ignored", None, reason="no record id")
    if event.action == "deleted":
        return TicketChange("deleted", ticket_id)
    if event.action not in ("added", "updated"):
        return TicketChange("ignored", ticket_id, reason=f"action {event.action!r} not handled")

    entity = payload.get("entity")
    if isinstance(entity, dict):
        record = {**entity, "id": entity.get("id", ticket_id)}
    else:
        # ConnectWise sent no record: ask for it.
        try:
            record = (await provider.get_ticket(ticket_id)).raw
        except PSANotFound:
            return TicketChange("deleted", ticket_id)
    if provider.is_own_echo(record):
        return TicketChange("ignored", ticket_id, reason="echo of Fixpilot's own write")
    return TicketChange(
        "ticket", ticket_id, ticket=ticket_from_cw(record), is_new=event.action == "added"
    )


# --- step 2: apply (one transaction) --------------------------------------------------------


async def apply(session: AsyncSession, account: Account, change: TicketChange) -> Outcome:
    if change.kind == "ignored" or change.ticket_id is None:
        return Outcome("ignored", change.reason)
    snapshot = await _locked_snapshot(session, account.id, change.ticket_id)
    if change.kind == "deleted":
        snapshot.deleted = True
        await _reflect_on_sessions(session, account.id, change.ticket_id, None, snapshot.board_id)
        return Outcome("done")

    ticket = change.ticket
    assert ticket is not None
    if snapshot.deleted:
        return Outcome("ignored", "ticket was deleted")
    if is_stale(ticket, snapshot.last_updated):
        return Outcome("ignored", "older than the ticket Fixpilot already has")
    previous_board_id = snapshot.board_id
    _update_snapshot(snapshot, ticket)
    linked = await _reflect_on_sessions(session, account.id, ticket.id, ticket, previous_board_id)
    if change.is_new and not linked and ticket.board_id in auto_open_boards(account):
        await _open_session(session, account.id, ticket)
    return Outcome("done")


async def _locked_snapshot(
    session: AsyncSession, account_id: int, ticket_id: int
) -> PSATicketSnapshot:
    """The ticket's snapshot, created if missing and row-locked on PostgreSQL, so events for
    one ticket are applied one after the other (SQLite's write lock already serialises)."""
    insert = sqlite_insert if session.bind.dialect.name == "sqlite" else pg_insert
    await session.execute(
        insert(PSATicketSnapshot)
        .values(account_id=account_id, ticket_id=ticket_id, closed=False, deleted=False)
        .on_conflict_do_nothing(index_elements=["account_id", "ticket_id"])
    )
    return (
        await session.execute(
            select(PSATicketSnapshot)
            .where(
                PSATicketSnapshot.account_id == account_id,
                PSATicketSnapshot.ticket_id == ticket_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


def _update_snapshot(snapshot: PSATicketSnapshot, ticket: Ticket) -> None:
    for name in CONTEXT_FIELDS:
        setattr(snapshot, name, getattr(ticket, name))
    snapshot.last_updated = ticket.last_updated


async def _reflect_on_sessions(
    session: AsyncSession,
    account_id: int,
    ticket_id: int,
    ticket: Ticket | None,
    previous_board_id: int | None,
) -> list[AISession]:
    """Bring every session linked to the ticket up to date; bump the ones that changed."""
    linked = (
        (
            await session.execute(
                select(AISession)
                .where(AISession.account_id == account_id, AISession.psa_ticket_id == ticket_id)
                .order_by(AISession.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    for ai_session in linked:
        context = ai_session.ticket_context
        if ticket is not None:
            context = ticket_context(ticket)
        board_before = previous_board_id
        if board_before is None and ai_session.ticket_context:
            board_before = ai_session.ticket_context.get("board_id")
        state = reflected_state(
            previous_state=ai_session.ticket_state,
            previous_board_id=board_before,
            ticket=ticket,
            session_active=ai_session.status == "active",
        )
        if context == ai_session.ticket_context and state == ai_session.ticket_state:
            continue
        ai_session.ticket_context = context
        ai_session.ticket_state = state
        await session.flush()
        await bump_state_version(session, ai_session.id)
    return list(linked)


async def _open_session(session: AsyncSession, account_id: int, ticket: Ticket) -> int:
    ai_session = AISession(
        account_id=account_id,
        title=(ticket.summary or f"Ticket #{ticket.id}")[:500],
        psa_ticket_id=ticket.id,
        status="active",
        state_version=1,
        ticket_context=ticket_context(ticket),
        ticket_state=reflected_state(
            previous_state=None, previous_board_id=None, ticket=ticket, session_active=True
        ),
        created_by=AUTO_OPENED_BY,
    )
    session.add(ai_session)
    await session.flush()
    return ai_session.id
