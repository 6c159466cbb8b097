"""PSAWritebackService: post the note, move the ticket, prove it by re-reading the ticket.

Every writeback is an outbox row whose `state` is saved as soon as a PSA call succeeds, so
a retry (the engineer's, the worker's after an outage, an admin's) resumes where it stopped:

    pending ──note posted──▶ note_posted ──status requested──▶ status_requested ──▶ done

A PSA that is down or throttling puts the row in `waiting_retry`, retried with a capped
backoff until it is done or an admin cancels it: an outage, however long, abandons nothing.
An answer the PSA will never accept (a 4xx, a status it did not apply) puts it in `failed`,
reported as failed, until the engineer or an admin retries it.

A note whose POST failed uncertainly (the connection dropped after sending) is looked up on
the ticket before it is posted again, so a ticket never gets the same note twice. Whoever
runs a writeback holds its claim on the writeback queue (kernel.queue): `attempts`, raised
by every claim, fences the writes, so a runner whose lease ran out (and was taken over)
cannot write anything more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.search.index import index_closed_session
from plugin.features.writeback.gate import CheckedDocument
from plugin.features.writeback.models import Writeback
from plugin.features.writeback.outcomes import KINDS, status_not_applied, writeback_result
from plugin.features.writeback.plain_text import markdown_to_plain
from plugin.features.writeback.queue import LEASE, WRITEBACK_QUEUE, retry_wait
from plugin.features.writeback.schemas import WritebackResult
from plugin.kernel.ai_sessions import (
    AISession,
    bump_state_version,
    get_ai_session,
    require_active,
)
from plugin.kernel.db import Database, utcnow
from plugin.kernel.errors import ApiError, BadGateway, Conflict
from plugin.kernel.psa import PSAConnections, has_psa
from plugin.kernel.queue import Claim
from plugin.kernel.states import (
    WRITEBACK_CLOSED,
    WRITEBACK_RUNNING,
    SessionStatus,
    WritebackKind,
    WritebackState,
)
from plugin.kernel.tenancy import Account, get_account
from providers.psa import (
    NoteKind,
    PSAError,
    PSAProvider,
    PSARateLimited,
    PSAStatusVerificationError,
    PSAUnavailable,
)

log = structlog.get_logger("fixpilot.writeback")


@dataclass
class Step:
    """What one run achieved, for the caller's answer."""

    result: WritebackResult
    error: ApiError | None = None


class PSAWritebackService:
    def __init__(self, database: Database, psa: PSAConnections) -> None:
        self.database = database
        self.psa = psa

    async def post(
        self,
        account_id: int,
        ai_session_id: int,
        kind: WritebackKind,
        document: CheckedDocument,
        actor: str,
        author: str | None = None,
    ) -> WritebackResult:
        """Start (or resume) the session's writeback of this kind and run it now. The
        document has passed the outbound gate (writeback.gate). `author`: the PSA member
        posting it (a pod member), who the note is attributed to."""
        async with self.database.write() as tx:
            ai_session = await get_ai_session(tx, account_id, ai_session_id, for_update=True)
            require_active(ai_session)
            account = await get_account(tx, account_id)
            if ai_session.psa_ticket_id is None or not has_psa(account):
                return await self._local(tx, ai_session, kind, document.text, actor, author)
            writeback = await self._claim_for_engineer(
                tx, ai_session, kind, document, actor, author
            )
            writeback_id = writeback.id
        step = await self.run(writeback_id)
        if step.error is not None:
            raise step.error
        return step.result

    async def _claim_for_engineer(
        self,
        tx: AsyncSession,
        ai_session: AISession,
        kind: WritebackKind,
        document: CheckedDocument,
        actor: str,
        author: str | None,
    ) -> Writeback:
        """The session's open writeback (created if there is none), claimed for this run."""
        writeback = await self._open_writeback(tx, ai_session)
        if writeback is not None and writeback.kind != kind:
            raise Conflict(
                f"The {writeback.kind} of this session is still being written to the "
                "ticket; finish or retry that first.",
                code="writeback_in_progress",
                details={"writeback_id": writeback.id, "kind": writeback.kind},
            )
        if writeback is None:
            writeback = Writeback(
                account_id=ai_session.account_id,
                session_id=ai_session.id,
                kind=kind,
                ticket_id=ai_session.psa_ticket_id,
                markdown=document.text,
                allowed_spans=document.allowed or None,
                created_by=actor,
                author_member_id=author,
                attempts=0,
            )
            tx.add(writeback)
        elif writeback.lease_until and writeback.lease_until > utcnow():
            raise Conflict(
                "This document is being written to the ticket right now.",
                code="writeback_in_progress",
                details={"writeback_id": writeback.id},
            )
        elif writeback.state in WRITEBACK_RUNNING:
            writeback.note_uncertain = True  # its runner died: it may have posted
        elif writeback.note_external_id is None and not writeback.note_uncertain:
            # Nothing posted yet: the latest edit, and whoever made it, win.
            writeback.markdown, writeback.allowed_spans = document.text, document.allowed or None
            writeback.created_by, writeback.author_member_id = actor, author
        if writeback.state not in WRITEBACK_RUNNING:
            writeback.state = (
                WritebackState.PENDING
                if writeback.note_external_id is None
                else WritebackState.NOTE_POSTED
            )
        writeback.lease_until = utcnow() + LEASE
        writeback.attempts += 1  # the claim: fences any earlier runner
        await tx.flush()
        return writeback

    async def _open_writeback(self, db: AsyncSession, ai_session: AISession) -> Writeback | None:
        """The session's unfinished writeback (one at a time: a ticket gets one verdict)."""
        return (
            await db.execute(
                select(Writeback)
                .where(
                    Writeback.session_id == ai_session.id,
                    Writeback.state.not_in(WRITEBACK_CLOSED),
                )
                .order_by(Writeback.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _local(
        self,
        tx: AsyncSession,
        ai_session: AISession,
        kind: WritebackKind,
        markdown: str,
        actor: str,
        author: str | None,
    ) -> WritebackResult:
        outcome = KINDS[kind].closes_locally_as
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
            state=WritebackState.DONE,
            skipped_reason=reason,
            created_by=actor,
            author_member_id=author,
            completed_at=now,
        )
        tx.add(writeback)
        ai_session.status = outcome
        ai_session.closed_at = now
        await tx.flush()
        await bump_state_version(tx, ai_session.id)
        await index_closed_session(tx, ai_session.id, markdown)
        return writeback_result(writeback, outcome)

    async def run(self, writeback_id: int) -> Step:
        """Advance one writeback as far as the PSA lets it; the caller holds its claim."""
        async with self.database.read() as db:
            writeback = await db.get(Writeback, writeback_id)
            account = await get_account(db, writeback.account_id)
        psa = self.psa.for_account(account)
        try:
            return await self._advance(writeback, account, psa)
        except LeaseLost:
            log.warning("writeback_lease_lost", writeback_id=writeback.id)
            return Step(
                writeback_result(writeback, "queued"),
                error=Conflict(
                    "This writeback was taken over by another worker; reload the session.",
                    code="writeback_in_progress",
                    details={"writeback_id": writeback.id},
                ),
            )
        except (PSAUnavailable, PSARateLimited) as exc:
            return await self._defer(writeback, exc)
        except PSAStatusVerificationError as exc:
            return await self._fail(writeback, exc, status_not_applied(exc, writeback.id))
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
        spec = KINDS[WritebackKind(writeback.kind)]
        if writeback.state == WritebackState.PENDING:
            posted = writeback.markdown
            if not account.prefs.psa_renders_markdown:
                posted = markdown_to_plain(posted)
            await self._post_note(writeback, psa, spec.note, posted)
        if writeback.state in (WritebackState.NOTE_POSTED, WritebackState.STATUS_REQUESTED):
            # Requesting again on resume is harmless and picks up a corrected target.
            ticket = await psa.get_ticket(writeback.ticket_id)
            target = account.prefs.status_target(spec.status_role, ticket.board_id)
            if target is None:
                board = ticket.board_name or ticket.board_id
                reason = (
                    f"No {spec.closes_as} status is configured for board {board}; "
                    "an admin can set one in the settings."
                )
                return await self._finish(writeback, spec.closes_as, skipped_reason=reason)
            await psa.set_status(writeback.ticket_id, target)
            await self._save(
                writeback, state=WritebackState.STATUS_REQUESTED, target_status_id=target
            )
            ticket = await psa.verify_status(writeback.ticket_id, writeback.target_status_id)
            return await self._finish(
                writeback,
                spec.closes_as,
                verified_status_id=ticket.status_id,
                verified_status_name=ticket.status_name,
            )
        return Step(writeback_result(writeback, spec.closes_as))

    async def _post_note(
        self, writeback: Writeback, psa: PSAProvider, kind: NoteKind, text: str
    ) -> None:
        note = None
        if writeback.note_uncertain:
            note = await psa.find_note(writeback.ticket_id, text, kind)
        if note is None:
            try:
                note = await psa.add_note(
                    writeback.ticket_id, text, kind, author=writeback.author_member_id
                )
            except PSAUnavailable as exc:
                if exc.uncertain:
                    await self._save(writeback, note_uncertain=True)
                raise
        await self._save(writeback, state=WritebackState.NOTE_POSTED, note_external_id=str(note.id))

    def _fence(self, writeback: Writeback):
        return WRITEBACK_QUEUE.fence(Claim(writeback.id, writeback.attempts))

    async def _save(self, writeback: Writeback, **values: Any) -> None:
        """Record progress, renewing the lease, only while this runner still holds it."""
        now = utcnow()
        values.setdefault("lease_until", now + LEASE)
        values["updated_at"] = now
        async with self.database.write() as tx:
            result = await tx.execute(
                update(Writeback).where(self._fence(writeback)).values(**values)
            )
        if result.rowcount != 1:
            raise LeaseLost()
        for key, value in values.items():
            setattr(writeback, key, value)

    async def _finish(self, writeback: Writeback, outcome: SessionStatus, **values: Any) -> Step:
        now = utcnow()
        async with self.database.write() as tx:
            result = await tx.execute(
                update(Writeback)
                .where(self._fence(writeback))
                .values(
                    state=WritebackState.DONE,
                    completed_at=now,
                    lease_until=None,
                    last_error=None,
                    updated_at=now,
                    **values,
                )
            )
            if result.rowcount != 1:
                raise LeaseLost()
            await tx.execute(
                update(AISession)
                .where(
                    AISession.id == writeback.session_id,
                    AISession.status == SessionStatus.ACTIVE,
                )
                .values(status=outcome, closed_at=now)
            )
            await bump_state_version(tx, writeback.session_id)
            await index_closed_session(tx, writeback.session_id, writeback.markdown)
        for key, value in values.items():
            setattr(writeback, key, value)
        writeback.state = WritebackState.DONE
        log.info("writeback_done", writeback_id=writeback.id, kind=writeback.kind, outcome=outcome)
        return Step(writeback_result(writeback, outcome))

    async def _defer(self, writeback: Writeback, exc: PSAError) -> Step:
        """The PSA is down or throttling: wait and try again, however long it takes."""
        wait = retry_wait(writeback.attempts)
        if isinstance(exc, PSARateLimited) and exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        await self._save(
            writeback,
            state=WritebackState.WAITING_RETRY,
            lease_until=None,
            next_attempt_at=utcnow() + wait,
            last_error=exc.message,
        )
        log.warning(
            "writeback_waiting_retry",
            writeback_id=writeback.id,
            attempts=writeback.attempts,
            error=exc.message,
        )
        return Step(writeback_result(writeback, "queued"))

    async def _fail(self, writeback: Writeback, exc: PSAError, error: ApiError) -> Step:
        """The PSA gave an answer retrying will not change: failed until someone retries."""
        await self._save(
            writeback, state=WritebackState.FAILED, lease_until=None, last_error=exc.message
        )
        log.warning("writeback_failed", writeback_id=writeback.id, error=exc.message)
        return Step(writeback_result(writeback, "failed"), error=error)


class LeaseLost(Exception):
    """Another runner claimed this writeback after our lease ran out."""
