"""PSAWritebackService: post the note, move the ticket, prove it by re-reading the ticket.

Every writeback is an outbox row whose `stage` is saved as soon as a PSA call succeeds, so
a retry (the engineer's, or the worker's after an outage) resumes where it stopped:

    pending ──note posted──▶ note_posted ──status requested──▶ status_requested ──▶ done

A note whose POST failed uncertainly (the connection dropped after sending) is looked up on
the ticket before it is posted again, so a ticket never gets the same note twice. Whoever
runs a writeback holds its lease; `attempts`, raised by every claim, fences the writes, so
a runner whose lease ran out (and was taken over) cannot write anything more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select, update

from plugin.accounts.models import Account
from plugin.db import utcnow
from plugin.errors import ApiError, BadGateway, Conflict, Unprocessable
from plugin.scripts.redaction import redact_text
from plugin.services import Services
from plugin.sessions.models import AISession
from plugin.sessions.service import bump_state_version, get_session, require_active
from plugin.writeback.models import Writeback
from plugin.writeback.schemas import NoteRef, StatusRef, WritebackResult
from providers.psa import (
    NoteKind,
    PSAError,
    PSAProvider,
    PSARateLimited,
    PSAStatusVerificationError,
    PSAUnavailable,
)

log = structlog.get_logger("fixpilot.writeback")

LEASE = timedelta(seconds=300)  # above the PSA client's worst case of retries
MAX_ATTEMPTS = 8
KINDS = {
    "resolution": ("resolved", NoteKind.RESOLUTION, "cw_resolved_status_id", "resolved"),
    "escalation": ("escalated", NoteKind.INTERNAL, "cw_escalated_status_id", "escalated"),
}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def target_status(preferences: dict[str, Any], kind: str, board_id: int | None) -> int | None:
    """Per-board override first, then the account-wide preference."""
    _, _, account_key, board_key = KINDS[kind]
    override = (preferences.get("board_overrides") or {}).get(str(board_id)) or {}
    if board_id is not None and override.get(board_key):
        return int(override[board_key])
    value = preferences.get(account_key)
    return int(value) if value else None


@dataclass
class Step:
    """What one run achieved, for the caller's answer."""

    result: WritebackResult
    error: ApiError | None = None


class PSAWritebackService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.db = services.db

    async def post(
        self, account_id: int, session_id: int, kind: str, markdown: str, actor: str
    ) -> WritebackResult:
        """Start (or resume) the session's writeback of this kind and run it now."""
        markdown = redact_text(markdown.strip())
        if not markdown:
            raise Unprocessable(
                "The document is empty.", details={"fields": {"markdown": "must not be blank"}}
            )
        async with self.db.write() as session:
            ai_session = await get_session(session, account_id, session_id, for_update=True)
            require_active(ai_session)
            account = await session.get(Account, account_id)
            if ai_session.psa_ticket_id is None or not psa_connected(account):
                return await self._local(session, ai_session, kind, markdown, actor)
            writeback = await self._open_writeback(session, ai_session)
            if writeback is not None and writeback.kind != kind:
                raise Conflict(
                    f"The {writeback.kind} of this session is still being written to the "
                    "ticket; finish or retry that first.",
                    code="writeback_in_progress",
                    details={"writeback_id": writeback.id, "kind": writeback.kind},
                )
            if writeback is None:
                writeback = Writeback(
                    account_id=account_id,
                    session_id=ai_session.id,
                    kind=kind,
                    ticket_id=ai_session.psa_ticket_id,
                    markdown=markdown,
                    created_by=actor,
                    attempts=0,
                )
                session.add(writeback)
            elif writeback.lease_until and writeback.lease_until > utcnow():
                raise Conflict(
                    "This document is being written to the ticket right now.",
                    code="writeback_in_progress",
                    details={"writeback_id": writeback.id},
                )
            elif writeback.state == "in_progress":
                writeback.note_uncertain = True  # its runner died: it may have posted
            elif writeback.stage == "pending" and not writeback.note_uncertain:
                writeback.markdown = markdown  # nothing posted yet: the latest edit wins
            writeback.state = "in_progress"
            writeback.lease_until = utcnow() + LEASE
            writeback.attempts += 1  # the claim: fences any earlier runner
            await session.flush()
            writeback_id = writeback.id
        step = await self.run(writeback_id)
        if step.error is not None:
            raise step.error
        return step.result

    async def _open_writeback(self, session, ai_session: AISession) -> Writeback | None:
        """The session's unfinished writeback (one at a time: a ticket gets one verdict)."""
        return (
            await session.execute(
                select(Writeback)
                .where(Writeback.session_id == ai_session.id, Writeback.state != "done")
                .order_by(Writeback.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _local(self, session, ai_session: AISession, kind: str, markdown: str, actor: str):
        outcome = KINDS[kind][0] + "_local"
        now = utcnow()
        reason = (
            "The session is not linked to a PSA ticket."
            if ai_session.psa_ticket_id is None
            else "The account has no PSA connection; the document is kept in Fixpilot."
        )
        writeback = Writeback(
            account_id=ai_session.account_id,
            session_id=ai_session.id,
            kind=kind,
            markdown=markdown,
            stage="done",
            state="done",
            skipped_reason=reason,
            created_by=actor,
            completed_at=now,
        )
        session.add(writeback)
        ai_session.status = outcome
        ai_session.closed_at = now
        await session.flush()
        await bump_state_version(session, ai_session.id)
        return WritebackResult(
            outcome=outcome,
            note=None,
            status=None,
            status_transition_skipped_reason=reason,
            writeback_id=writeback.id,
            state="done",
        )

    async def run(self, writeback_id: int) -> Step:
        """Advance one writeback as far as the PSA lets it; the caller holds its lease."""
        async with self.db.read() as session:
            writeback = await session.get(Writeback, writeback_id)
            account = await session.get(Account, writeback.account_id)
        psa = self.services.psa.for_account(account)
        try:
            return await self._advance(writeback, account, psa)
        except LeaseLost:
            log.warning("writeback_lease_lost", writeback_id=writeback.id)
            return Step(
                self._result(writeback, "queued"),
                error=Conflict(
                    "This writeback was taken over by another worker; reload the session.",
                    code="writeback_in_progress",
                    details={"writeback_id": writeback.id},
                ),
            )
        except (PSAUnavailable, PSARateLimited) as exc:
            return await self._defer(writeback, exc)
        except PSAStatusVerificationError as exc:
            return await self._fail(writeback, exc, _status_not_applied(exc, writeback.id))
        except PSAError as exc:
            return await self._fail(
                writeback,
                exc,
                BadGateway(
                    f"ConnectWise refused the write: {exc.message}",
                    code="psa_error",
                    details={"writeback_id": writeback.id, "psa_code": exc.code},
                ),
            )

    async def _advance(self, writeback: Writeback, account: Account, psa: PSAProvider) -> Step:
        outcome, note_kind, _, _ = KINDS[writeback.kind]
        if writeback.stage == "pending":
            note = None
            if writeback.note_uncertain:
                note = await psa.find_note(writeback.ticket_id, writeback.markdown, note_kind)
            if note is None:
                try:
                    note = await psa.add_note(writeback.ticket_id, writeback.markdown, note_kind)
                except PSAUnavailable as exc:
                    if exc.uncertain:
                        await self._save(writeback, note_uncertain=True)
                    raise
            await self._save(writeback, stage="note_posted", note_external_id=str(note.id))

        if writeback.stage in ("note_posted", "status_requested"):
            # Requesting again on resume is harmless and picks up a corrected target.
            ticket = await psa.get_ticket(writeback.ticket_id)
            target = target_status(account.preferences or {}, writeback.kind, ticket.board_id)
            if target is None:
                board = ticket.board_name or ticket.board_id
                reason = (
                    f"No {outcome} status is configured for board {board}; "
                    "an admin can set one in the settings."
                )
                return await self._finish(writeback, outcome, skipped_reason=reason)
            await psa.set_status(writeback.ticket_id, target)
            await self._save(writeback, stage="status_requested", target_status_id=target)
            ticket = await psa.verify_status(writeback.ticket_id, writeback.target_status_id)
            return await self._finish(
                writeback,
                outcome,
                verified_status_id=ticket.status_id,
                verified_status_name=ticket.status_name,
            )
        return Step(self._result(writeback, outcome))

    async def _save(self, writeback: Writeback, **values: Any) -> None:
        """Record progress, renewing the lease, only while this runner still holds it."""
        now = utcnow()
        values.setdefault("lease_until", now + LEASE)
        values["updated_at"] = now
        async with self.db.write() as session:
            result = await session.execute(
                update(Writeback)
                .where(Writeback.id == writeback.id, Writeback.attempts == writeback.attempts)
                .values(**values)
            )
        if result.rowcount != 1:
            raise LeaseLost()
        for key, value in values.items():
            setattr(writeback, key, value)

    async def _finish(self, writeback: Writeback, outcome: str, **values: Any) -> Step:
        now = utcnow()
        async with self.db.write() as session:
            result = await session.execute(
                update(Writeback)
                .where(Writeback.id == writeback.id, Writeback.attempts == writeback.attempts)
                .values(
                    stage="done",
                    state="done",
                    completed_at=now,
                    lease_until=None,
                    last_error=None,
                    updated_at=now,
                    **values,
                )
            )
            if result.rowcount != 1:
                raise LeaseLost()
            await session.execute(
                update(AISession)
                .where(AISession.id == writeback.session_id, AISession.status == "active")
                .values(status=outcome, closed_at=now)
            )
            await bump_state_version(session, writeback.session_id)
        for key, value in values.items():
            setattr(writeback, key, value)
        writeback.stage = writeback.state = "done"
        log.info("writeback_done", writeback_id=writeback.id, kind=writeback.kind, outcome=outcome)
        return Step(self._result(writeback, outcome))

    async def _defer(self, writeback: Writeback, exc: PSAError) -> Step:
        attempts = writeback.attempts
        if attempts >= MAX_ATTEMPTS:
            return await self._fail(
                writeback,
                exc,
                BadGateway(
                    "ConnectWise stayed unreachable; the writeback was given up. Retry it "
                    "when ConnectWise is back.",
                    code="psa_unavailable",
                    details={"writeback_id": writeback.id},
                ),
            )
        wait = backoff(attempts)
        if isinstance(exc, PSARateLimited) and exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        await self._save(
            writeback,
            state="queued",
            lease_until=None,
            next_attempt_at=utcnow() + wait,
            last_error=exc.message,
        )
        log.warning(
            "writeback_queued", writeback_id=writeback.id, attempts=attempts, error=exc.message
        )
        return Step(self._result(writeback, "queued"))

    async def _fail(self, writeback: Writeback, exc: PSAError, error: ApiError) -> Step:
        await self._save(writeback, state="failed", lease_until=None, last_error=exc.message)
        log.warning("writeback_failed", writeback_id=writeback.id, error=exc.message)
        return Step(self._result(writeback, "queued"), error=error)

    async def give_back(self, writeback_id: int, attempts: int, error: str) -> None:
        """An unexpected failure while running: queue it again with backoff (or give up),
        so the error is recorded and visible instead of the row sitting in progress."""
        state = "failed" if attempts >= MAX_ATTEMPTS else "queued"
        async with self.db.write() as session:
            await session.execute(
                update(Writeback)
                .where(Writeback.id == writeback_id, Writeback.attempts == attempts)
                .values(
                    state=state,
                    lease_until=None,
                    next_attempt_at=utcnow() + backoff(attempts),
                    last_error=error,
                    updated_at=utcnow(),
                )
            )

    def _result(self, writeback: Writeback, outcome: str) -> WritebackResult:
        status = None
        if writeback.verified_status_id is not None:
            status = StatusRef(
                id=writeback.verified_status_id,
                name=writeback.verified_status_name,
                verified=True,
            )
        return WritebackResult(
            outcome=outcome,  # type: ignore[arg-type]
            note=NoteRef(external_id=writeback.note_external_id)
            if writeback.note_external_id
            else None,
            status=status,
            status_transition_skipped_reason=writeback.skipped_reason,
            writeback_id=writeback.id,
            state=writeback.state,
            last_error=writeback.last_error,
        )


class LeaseLost(Exception):
    """Another runner claimed this writeback after our lease ran out."""


def psa_connected(account: Account) -> bool:
    return account.psa_provider == "connectwise" and bool(account.cw_api_url)


def _status_not_applied(exc: PSAStatusVerificationError, writeback_id: int) -> BadGateway:
    def describe(status) -> dict[str, Any] | None:
        if status is None:
            return None
        if isinstance(status, int):
            return {"id": status, "name": None}
        return {"id": status.id, "name": status.name}

    return BadGateway(
        "ConnectWise accepted the status change but the ticket shows another status.",
        code="status_not_applied",
        details={
            "expected": describe(exc.expected),
            "actual": describe(exc.actual),
            "writeback_id": writeback_id,
        },
    )
