"""AI sessions: opening one (with its ticket's context), and how messages and facts are
shown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.sessions.models import Fact, Message
from plugin.features.sessions.schemas import FactOut, MessageOut
from plugin.kernel.ai_sessions import AISession, ticket_context, ticket_secrets
from plugin.kernel.db import Database
from plugin.kernel.errors import Unprocessable
from plugin.kernel.psa import PSAConnections, has_psa, psa_label
from plugin.kernel.redaction import find_secrets, redact_text
from plugin.kernel.secret_memory import Caught, SecretBox, caught_in, remember
from plugin.kernel.states import SessionStatus, TicketState
from plugin.kernel.tenancy import get_account
from providers.psa import PSAError, PSANotFound

log = structlog.get_logger("fixpilot.sessions")
FETCH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class TicketRead:
    """The ticket as a session keeps it (its text redacted) and the secrets its text held."""

    context: dict[str, Any]
    secrets: list[Caught] = field(default_factory=list)


async def fetch_ticket_context(
    database: Database, psa: PSAConnections, account_id: int, ticket_id: int
) -> TicketRead | None:
    """The ticket's context with its description, or None when the PSA can't be asked right
    now (the session opens anyway; callbacks fill it in later). An unknown ticket is the
    caller's mistake."""
    async with database.read() as db:
        account = await get_account(db, account_id)
    if not has_psa(account):
        return None
    provider = psa.for_account(account)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
            ticket = await provider.get_ticket(ticket_id)
    except PSANotFound:
        raise Unprocessable(
            f"Ticket {ticket_id} does not exist in {psa_label(account)}.",
            details={"fields": {"psa_ticket_id": "no such ticket"}},
        ) from None
    except (PSAError, TimeoutError) as exc:
        log.warning("ticket_context_unavailable", ticket_id=ticket_id, error=type(exc).__name__)
        return None
    description = await fetch_description(provider, ticket_id)
    return TicketRead(ticket_context(ticket, description), ticket_secrets(ticket, description))


async def fetch_description(provider: Any, ticket_id: int) -> str | None:
    """The ticket's description, or None when it can't be read now: the session works from
    the summary until then (the failure is logged, not hidden)."""
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
            return await provider.get_description(ticket_id)
    except (PSAError, TimeoutError) as exc:
        log.warning("ticket_description_unavailable", ticket_id=ticket_id, error=type(exc).__name__)
        return None


async def open_session(
    tx: AsyncSession,
    *,
    account_id: int,
    title: str,
    psa_ticket_id: int | None,
    context: dict[str, Any] | None,
    actor: str,
    secrets: Sequence[Caught] = (),
    box: SecretBox | None = None,
) -> AISession:
    """A new active session. Its title is redacted like any input; the secrets of its
    ticket's text and title are remembered when a `box` is given."""
    title_secrets = caught_in(title, find_secrets(title))
    ai_session = AISession(
        account_id=account_id,
        title=redact_text(title)[:500],
        psa_ticket_id=psa_ticket_id,
        status=SessionStatus.ACTIVE,
        state_version=1,
        ticket_state=TicketState.OPEN if psa_ticket_id else None,
        ticket_context=context,
        created_by=actor,
    )
    tx.add(ai_session)
    await tx.flush()
    if box is not None:
        await remember(tx, box, ai_session.id, [*secrets, *title_secrets], source="ticket")
    return ai_session


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.id,
        role=m.role,
        content=m.content,
        redactions=list(m.redactions or []),
        generator=m.generator,
        reply_to_id=m.reply_to_id,
        created_at=m.created_at,
    )


def fact_out(f: Fact, state_version: int | None = None) -> FactOut:
    return FactOut(
        id=f.id,
        text=f.text,
        redactions=list(f.redactions or []),
        source=f.source,
        created_at=f.created_at,
        updated_at=f.updated_at,
        state_version=state_version,
    )
