"""The sessions core: the AI session row, finding one in scope, requiring it active, and
bumping `state_version` — what every feature that touches a session needs.

`state_version` is the single answer to "has anything a note depends on changed": every
such write bumps it in its own transaction (DESIGN §3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, JSONType, UTCDateTime, utcnow
from plugin.kernel.errors import Conflict, NotFound
from plugin.kernel.redaction import find_secrets, redact_text
from plugin.kernel.secret_memory import Caught, caught_in
from plugin.kernel.states import SessionStatus, TicketState, values
from plugin.kernel.tenancy import get_scoped
from providers.psa import Ticket

# The ticket fields a session keeps (TicketInfo without the id): for prompts and notes.
TICKET_CONTEXT_FIELDS = (
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


class AISession(Base):
    __tablename__ = "ai_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN {values(SessionStatus)!r}", name="status"),
        CheckConstraint(f"ticket_state IN {values(TicketState)!r}", name="ticket_state"),
        CheckConstraint("state_version >= 1", name="state_version_positive"),
        Index("ix_ai_sessions_account_id_psa_ticket_id", "account_id", "psa_ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    psa_ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), default=SessionStatus.ACTIVE)
    state_version: Mapped[int] = mapped_column(Integer, default=1)
    # The ticket as last seen (summary, board, status, company...) for prompts and notes.
    ticket_context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ticket_state: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.status == SessionStatus.ACTIVE


# Text the customer or their contact wrote: redacted before it is stored or prompted.
TICKET_TEXT_FIELDS = ("summary", "company_name", "contact_name", "description")
DESCRIPTION_MAX_CHARS = 8000


def ticket_context(ticket: Ticket, description: str | None = None) -> dict[str, Any]:
    """The session's view of its ticket, its text redacted (a client's password in a
    ticket's summary is stored, prompted and shown as [REDACTED])."""
    context = {name: getattr(ticket, name) for name in TICKET_CONTEXT_FIELDS}
    if description is not None:
        context["description"] = description[:DESCRIPTION_MAX_CHARS]
    return {
        name: redact_text(value) if name in TICKET_TEXT_FIELDS and value else value
        for name, value in context.items()
    }


def ticket_secrets(ticket: Ticket, description: str | None = None) -> list[Caught]:
    """The secrets the ticket's text holds, for the session memory of its sessions."""
    texts = [getattr(ticket, name) or "" for name in TICKET_TEXT_FIELDS[:-1]]
    texts.append((description or "")[:DESCRIPTION_MAX_CHARS])
    return [caught for text in texts if text for caught in caught_in(text, find_secrets(text))]


async def get_ai_session(
    db: AsyncSession, account_id: int, ai_session_id: int, *, for_update: bool = False
) -> AISession:
    return await get_scoped(
        db, AISession, ai_session_id, account_id, what="AI session", for_update=for_update
    )


def require_active(ai_session: AISession) -> None:
    if not ai_session.is_active:
        raise Conflict(
            f"The session is already {ai_session.status.replace('_', ' ')}.",
            code="session_closed",
            details={"status": ai_session.status},
        )


async def bump_state_version(tx: AsyncSession, ai_session_id: int) -> int:
    """Atomically raise the session's state_version; call it in the transaction of the write
    that a note could reflect, which locked the session row first
    (`get_ai_session(..., for_update=True)`): one lock order, session before its fixes,
    checks and facts, so concurrent writers of a session queue instead of deadlocking."""
    result = await tx.execute(
        update(AISession)
        .where(AISession.id == ai_session_id)
        .values(state_version=AISession.state_version + 1, updated_at=utcnow())
        .returning(AISession.state_version)
    )
    version = result.scalar_one_or_none()
    if version is None:
        raise NotFound(f"AI session {ai_session_id} does not exist.", code="ai_session_not_found")
    return version
