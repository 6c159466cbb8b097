"""A session's view of its PSA ticket, fetched when the session is opened."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from plugin.accounts.models import Account
from plugin.callbacks.processing import ticket_context
from plugin.errors import Unprocessable
from plugin.services import Services
from providers.psa import PSAError, PSANotFound

log = structlog.get_logger("fixpilot.sessions")
FETCH_TIMEOUT_SECONDS = 5.0


async def fetch_ticket_context(
    services: Services, account_id: int, ticket_id: int
) -> dict[str, Any] | None:
    """The ticket's context, or None when the PSA can't be asked right now (the session
    opens anyway; callbacks fill it in later). An unknown ticket is the caller's mistake."""
    async with services.db.read() as session:
        account = await session.get(Account, account_id)
    if account.psa_provider != "connectwise" or not account.cw_api_url:
        return None
    psa = services.psa.for_account(account)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
            ticket = await psa.get_ticket(ticket_id)
    except PSANotFound:
        raise Unprocessable(
            f"Ticket {ticket_id} does not exist in ConnectWise.",
            details={"fields": {"psa_ticket_id": "no such ticket"}},
        ) from None
    except (PSAError, TimeoutError) as exc:
        log.warning("ticket_context_unavailable", ticket_id=ticket_id, error=type(exc).__name__)
        return None
    return ticket_context(ticket)
