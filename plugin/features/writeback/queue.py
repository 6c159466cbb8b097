"""The writeback queue (kernel.queue): which states a runner holds, where a retried
writeback starts again, and how long it waits after the PSA was unreachable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case

from plugin.features.writeback.models import Writeback
from plugin.kernel.queue import LeasedQueue, exponential_backoff
from plugin.kernel.states import WritebackState

LEASE = timedelta(seconds=300)  # above the PSA client's worst case of retries
# Soon after a blip, then every 15 minutes for as long as the PSA stays down.
RETRY_BACKOFF = exponential_backoff(timedelta(seconds=30), timedelta(minutes=15))


def retry_wait(attempts: int) -> timedelta:
    # Looked up at call time so a test can shorten the backoff (monkeypatch RETRY_BACKOFF).
    return RETRY_BACKOFF(attempts)


def _resumed_state():
    """A retried writeback starts again after the note if the note was posted."""
    return case(
        (Writeback.note_external_id.is_not(None), WritebackState.NOTE_POSTED),
        else_=WritebackState.PENDING,
    )


WRITEBACK_QUEUE = LeasedQueue(
    table=Writeback,
    state=Writeback.state,
    ready=WritebackState.WAITING_RETRY,
    running=WritebackState.PENDING,
    also_running=(WritebackState.NOTE_POSTED, WritebackState.STATUS_REQUESTED),
    resume=_resumed_state,
    order_by=lambda: (Writeback.next_attempt_at, Writeback.id),
    dead=WritebackState.FAILED,  # never written by the queue: no max_attempts
    lease=LEASE,
    backoff=retry_wait,
    max_attempts=None,
    # A runner that lost its lease may have posted the note before it stopped: look for it
    # on the ticket before posting again.
    takeover_values={"note_uncertain": True},
)
