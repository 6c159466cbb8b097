"""Importing a PSA's closed tickets as history: indexed like resolved sessions, without
sessions. Pages through the closed tickets by ascending id and stores, with each ticket it
indexes, the id it got to, so an interrupted import resumes after the last ticket it stored
(and a ticket indexed twice replaces itself: no duplicates either way)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from plugin.features.search.documents import history_document
from plugin.features.search.index import put_documents
from plugin.features.search.models import HistoryImport
from plugin.kernel.db import Database, utcnow
from providers.psa import ClosedTicket, Ticket, TicketHistory

Progress = Callable[[int, int], None]  # (imported so far, total)


@dataclass(frozen=True)
class ImportResult:
    imported: int  # tickets indexed in this import, counting a resumed run's earlier ones
    total: int  # closed tickets in scope
    since: datetime
    resumed_after: int  # 0, or the ticket id an interrupted run had reached


def scope_of(board_id: int | None) -> str:
    return f"board:{board_id}" if board_id is not None else "all"


async def _start(
    database: Database, account_id: int, since: datetime, board_id: int | None, restart: bool
) -> HistoryImport:
    """This scope's unfinished import (resumed with the `since` it started with), or a new
    one."""
    async with database.write() as tx:
        state = (
            await tx.execute(
                select(HistoryImport).where(
                    HistoryImport.account_id == account_id,
                    HistoryImport.scope == scope_of(board_id),
                )
            )
        ).scalar_one_or_none()
        if state is None:
            state = HistoryImport(account_id=account_id, scope=scope_of(board_id), since=since)
            tx.add(state)
        if restart or state.finished_at is not None:
            state.since, state.cursor_ticket_id, state.imported = since, 0, 0
            state.started_at, state.finished_at = utcnow(), None
        await tx.flush()
        return state


async def import_history(
    database: Database,
    history: TicketHistory,
    account_id: int,
    *,
    since: datetime,
    board_id: int | None = None,
    restart: bool = False,
    on_progress: Progress | None = None,
) -> ImportResult:
    state = await _start(database, account_id, since, board_id, restart)
    resumed_after, cursor, imported = state.cursor_ticket_id, state.cursor_ticket_id, state.imported
    total = await history.count_closed(state.since, board_id)
    if on_progress:
        on_progress(imported, total)
    while True:
        page = await history.closed_tickets(state.since, board_id, cursor)
        for ticket in page:
            await _index_one(database, history, account_id, state.id, ticket)
            cursor, imported = ticket.id, imported + 1
            if on_progress:
                on_progress(imported, max(total, imported))
        if len(page) < history.page_size:
            break
    async with database.write() as tx:
        done = await tx.get(HistoryImport, state.id)
        done.finished_at = utcnow()
    return ImportResult(imported, max(total, imported), state.since, resumed_after)


async def _index_one(
    database: Database, history: TicketHistory, account_id: int, import_id: int, ticket: Ticket
) -> None:
    notes = await history.ticket_notes(ticket.id)
    closed = ClosedTicket(ticket=ticket, closed_at=_closed_at(ticket), notes=notes)
    async with database.write() as tx:
        await put_documents(tx, account_id, [history_document(closed)])
        state = await tx.get(HistoryImport, import_id)
        state.cursor_ticket_id = ticket.id
        state.imported += 1


def _closed_at(ticket: Ticket) -> datetime:
    for stamp in (ticket.closed_date, ticket.last_updated):
        if stamp:
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                continue
    return utcnow()
