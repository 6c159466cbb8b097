"""What an admin does with writebacks: list them by state, retry one now, cancel one.

Retry and cancel are one conditional UPDATE each, so they cannot race a runner: a retry
only touches a writeback nobody holds (waiting or failed), and a cancel moves a held one out
of the running states, which fences its runner (kernel.queue) from writing anything more.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.writeback.models import Writeback
from plugin.features.writeback.schemas import WritebackOut
from plugin.kernel.db import Database, utcnow
from plugin.kernel.errors import Conflict
from plugin.kernel.states import WritebackState
from plugin.kernel.tenancy import get_scoped

RETRYABLE = (WritebackState.WAITING_RETRY, WritebackState.FAILED)


def writeback_out(writeback: Writeback) -> WritebackOut:
    return WritebackOut(
        id=writeback.id,
        session_id=writeback.session_id,
        kind=writeback.kind,
        ticket_id=writeback.ticket_id,
        state=writeback.state,
        attempts=writeback.attempts,
        next_attempt_at=writeback.next_attempt_at,
        lease_until=writeback.lease_until,
        last_error=writeback.last_error,
        note_external_id=writeback.note_external_id,
        verified_status_id=writeback.verified_status_id,
        created_by=writeback.created_by,
        created_at=writeback.created_at,
        updated_at=writeback.updated_at,
        completed_at=writeback.completed_at,
    )


async def _change(tx: AsyncSession, writeback: Writeback, allowed, values: dict) -> bool:
    result = await tx.execute(
        update(Writeback)
        .where(Writeback.id == writeback.id, Writeback.state.in_(allowed))
        .values(updated_at=utcnow(), **values)
    )
    return result.rowcount == 1


async def retry_now(database: Database, account_id: int, writeback_id: int) -> WritebackOut:
    """A waiting or failed writeback becomes due now; the worker resumes it where it
    stopped (after its note, if the note was posted)."""
    async with database.write() as tx:
        writeback = await get_scoped(tx, Writeback, writeback_id, account_id, what="Writeback")
        values = {"state": WritebackState.WAITING_RETRY, "next_attempt_at": utcnow()}
        if not await _change(tx, writeback, RETRYABLE, values):
            raise Conflict(
                f"Only a waiting or failed writeback can be retried; this one is "
                f"{writeback.state}.",
                code="writeback_not_retryable",
                details={"state": writeback.state},
            )
        await tx.refresh(writeback)
        return writeback_out(writeback)


async def cancel(database: Database, account_id: int, writeback_id: int) -> WritebackOut:
    """Stop trying: anything not done. The session stays open, so the engineer can post
    again (a new writeback); a note already on the ticket stays there."""
    async with database.write() as tx:
        writeback = await get_scoped(tx, Writeback, writeback_id, account_id, what="Writeback")
        open_states = [s for s in WritebackState if s != WritebackState.DONE]
        values = {"state": WritebackState.CANCELLED, "lease_until": None}
        if not await _change(tx, writeback, open_states, values):
            raise Conflict(
                "This writeback is done; there is nothing to cancel.",
                code="writeback_done",
                details={"state": writeback.state},
            )
        await tx.refresh(writeback)
        return writeback_out(writeback)
