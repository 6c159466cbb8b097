"""What one stored ticket callback does: the ticket snapshot, the linked AI sessions, and
sessions opened automatically for new tickets on chosen boards.

Two steps so no PSA call happens inside a database transaction: `prepare` turns the stored
event into a `TicketChange` (fetching the ticket only when ConnectWise sent no Entity), and
`apply` writes its effects in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.features.sessions.service import fetch_description, open_session
from plugin.kernel.ai_sessions import (
    AISession,
    bump_state_version,
    ticket_context,
    ticket_secrets,
)
from plugin.kernel.db import insert_for
from plugin.kernel.secret_memory import SecretBox, remember
from plugin.kernel.states import CallbackEventStatus, TicketState
from plugin.kernel.tenancy import Account
from providers.psa import PSANotFound, PSAProvider, Ticket

ChangeKind = Literal["ticket", "deleted", "ignored"]
AUTO_OPENED_BY = "connectwise"


@dataclass(frozen=True)
class TicketChange:
    kind: ChangeKind
    ticket_id: int | None
    ticket: Ticket | None = None
    is_new: bool = False  # ConnectWise said "added"
    reason: str | None = None  # why it is ignored
    description: str | None = None  # read for a new ticket, whose session may open now


@dataclass(frozen=True)
class Outcome:
    status: CallbackEventStatus  # done | ignored
    note: str | None = None


# --- pure decisions -------------------------------------------------------------------------


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
        return TicketState.DELETED
    if ticket.merged_parent_id is not None:
        return TicketState.MERGED
    if ticket.closed:
        return TicketState.CLOSED_OUTSIDE if session_active else previous_state or TicketState.OPEN
    if previous_board_id is not None and ticket.board_id != previous_board_id:
        return TicketState.MOVED_BOARD
    if previous_state in _GONE:
        return TicketState.OPEN  # reopened
    return previous_state or TicketState.OPEN


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


_GONE = (TicketState.CLOSED_OUTSIDE, TicketState.MERGED, TicketState.DELETED)


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

    source = provider.callbacks
    if source is None:
        return TicketChange("ignored", ticket_id, reason="this account's PSA sends no callbacks")
    entity = payload.get("entity")
    if isinstance(entity, dict):
        record = {**entity, "id": entity.get("id", ticket_id)}
    else:
        # The PSA sent no record: ask for it.
        try:
            record = (await provider.get_ticket(ticket_id)).raw
        except PSANotFound:
            return TicketChange("deleted", ticket_id)
    if source.is_own_echo(record):
        return TicketChange("ignored", ticket_id, reason="echo of Fixpilot's own write")
    is_new = event.action == "added"
    return TicketChange(
        "ticket",
        ticket_id,
        ticket=source.ticket_from_record(record),
        is_new=is_new,
        description=await fetch_description(provider, ticket_id) if is_new else None,
    )


# --- step 2: apply (one transaction) --------------------------------------------------------


async def apply(
    tx: AsyncSession, account: Account, change: TicketChange, box: SecretBox | None = None
) -> Outcome:
    """Apply a prepared change. `box`: the session secret memory's, to remember what the
    ticket's text holds (its text is redacted either way)."""
    done, ignored = CallbackEventStatus.DONE, CallbackEventStatus.IGNORED
    if change.kind == "ignored" or change.ticket_id is None:
        return Outcome(ignored, change.reason)
    snapshot = await _locked_snapshot(tx, account.id, change.ticket_id)
    if change.kind == "deleted":
        snapshot.deleted = True
        await _reflect_on_sessions(tx, account.id, change.ticket_id, None, snapshot.board_id, box)
        return Outcome(done)

    ticket = change.ticket
    assert ticket is not None
    if snapshot.deleted:
        return Outcome(ignored, "ticket was deleted")
    if is_stale(ticket, snapshot.last_updated):
        return Outcome(ignored, "older than the ticket Fixpilot already has")
    previous_board_id = snapshot.board_id
    _update_snapshot(snapshot, ticket)
    linked = await _reflect_on_sessions(tx, account.id, ticket.id, ticket, previous_board_id, box)
    if change.is_new and not linked and account.prefs.opens_sessions_on(ticket.board_id):
        await _open_session(tx, account.id, ticket, change.description, box)
    return Outcome(done)


async def _locked_snapshot(tx: AsyncSession, account_id: int, ticket_id: int) -> PSATicketSnapshot:
    """The ticket's snapshot, created if missing and row-locked on PostgreSQL, so events for
    one ticket are applied one after the other (SQLite's write lock already serialises)."""
    await tx.execute(
        insert_for(tx.bind.dialect.name, PSATicketSnapshot)
        .values(account_id=account_id, ticket_id=ticket_id, closed=False, deleted=False)
        .on_conflict_do_nothing(index_elements=["account_id", "ticket_id"])
    )
    return (
        await tx.execute(
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
    for name, value in ticket_context(ticket).items():  # its text redacted
        setattr(snapshot, name, value)
    snapshot.last_updated = ticket.last_updated


async def _reflect_on_sessions(
    tx: AsyncSession,
    account_id: int,
    ticket_id: int,
    ticket: Ticket | None,
    previous_board_id: int | None,
    box: SecretBox | None,
) -> list[AISession]:
    """Bring every session linked to the ticket up to date; bump the ones that changed."""
    linked = (
        (
            await tx.execute(
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
            # The description is read when the session opens; a callback carries none.
            description = (context or {}).get("description")
            context = {
                **ticket_context(ticket),
                **({"description": description} if description else {}),
            }
            if box is not None:
                await remember(tx, box, ai_session.id, ticket_secrets(ticket), source="ticket")
        board_before = previous_board_id
        if board_before is None and ai_session.ticket_context:
            board_before = ai_session.ticket_context.get("board_id")
        state = reflected_state(
            previous_state=ai_session.ticket_state,
            previous_board_id=board_before,
            ticket=ticket,
            session_active=ai_session.is_active,
        )
        if context == ai_session.ticket_context and state == ai_session.ticket_state:
            continue
        ai_session.ticket_context = context
        ai_session.ticket_state = state
        await tx.flush()
        await bump_state_version(tx, ai_session.id)
    return list(linked)


async def _open_session(
    tx: AsyncSession,
    account_id: int,
    ticket: Ticket,
    description: str | None,
    box: SecretBox | None,
) -> AISession:
    return await open_session(
        tx,
        account_id=account_id,
        title=(ticket.summary or f"Ticket #{ticket.id}")[:500],
        psa_ticket_id=ticket.id,
        context=ticket_context(ticket, description),
        actor=AUTO_OPENED_BY,
        secrets=ticket_secrets(ticket, description),
        box=box,
    )
