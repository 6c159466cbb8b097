"""Helpers for the callback tests: fixture bodies signed as ConnectWise signs them, delivery,
waiting for the worker, and sessions linked to simulator tickets."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from plugin.features.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.kernel.ai_sessions import AISession, ticket_context
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa.connectwise import SIGNATURE_HEADER, compute_signature, ticket_from_cw
from tests.helpers import resources_of

FIXTURES = Path(__file__).parent / "fixtures" / "connectwise"
PLACEHOLDER_HOST = b"http://cw.test"
WEBHOOK = "/webhooks/connectwise/default"
FINISHED = ("done", "ignored", "dead")


def fixture_body(name: str, site_url: str) -> bytes:
    """A fixture's raw bytes with the placeholder host replaced (before signing)."""
    return (FIXTURES / f"{name}.json").read_bytes().replace(PLACEHOLDER_HOST, site_url.encode())


def ticket_body(
    site_url: str, ticket: dict[str, Any], action: str = "updated", *, key_id: int = 1
) -> bytes:
    """A body shaped like the simulator's, for a ticket record built by the test."""
    body = {
        "MessageId": str(uuid.uuid4()),
        "FromUrl": site_url,
        "CompanyId": "fixpilot_demo",
        "MemberId": (ticket.get("_info") or {}).get("updatedBy"),
        "Action": action,
        "Type": "ticket",
        "ID": ticket["id"],
        "Entity": None if action == "deleted" else json.dumps(ticket),
        "Metadata": {
            "key_url": f"{site_url}/v4_6_release/apis/3.0/system/callbacks/signingkey"
            f"?keyId={key_id}"
        },
    }
    return json.dumps(body).encode()


def signature_headers(raw: bytes, signing_key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: compute_signature(raw, signing_key),
    }


async def deliver(client, raw: bytes, signing_key: str | None, path: str = WEBHOOK):
    headers = signature_headers(raw, signing_key) if signing_key else {}
    return await client.post(path, data=raw, headers=headers)


def services_of(client):
    return resources_of(client.app)


async def events(db, **where) -> list[PSACallbackEvent]:
    async with db.read() as session:
        stmt = select(PSACallbackEvent).order_by(PSACallbackEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(PSACallbackEvent, name) == value)
        return list((await session.execute(stmt)).scalars())


async def wait_until_processed(db, count: int = 1, within: float = 5.0) -> list[PSACallbackEvent]:
    """Poll until `count` stored events are finished (done, ignored or dead)."""
    async with asyncio.timeout(within):
        while True:
            rows = await events(db)
            finished = [e for e in rows if e.status in FINISHED]
            if len(finished) >= count and len(finished) == len(rows):
                return rows
            await asyncio.sleep(0.02)


async def link_session(db, ticket: dict[str, Any], *, account: str = "default") -> int:
    """An active AI session on the ticket, its context as the simulator has the ticket now."""
    async with db.write() as session:
        acct = await get_account_by_slug(session, account)
        ai_session = AISession(
            account_id=acct.id,
            title=ticket["summary"],
            psa_ticket_id=ticket["id"],
            status="active",
            state_version=1,
            ticket_context=ticket_context(ticket_from_cw(ticket)),
            ticket_state="open",
            created_by="test",
        )
        session.add(ai_session)
        await session.flush()
        return ai_session.id


async def get_session(db, ai_session_id: int) -> AISession:
    async with db.read() as session:
        return await session.get(AISession, ai_session_id)


async def sessions_for(db, ticket_id: int) -> list[AISession]:
    async with db.read() as session:
        stmt = select(AISession).where(AISession.psa_ticket_id == ticket_id)
        return list((await session.execute(stmt.order_by(AISession.id))).scalars())


async def snapshot(db, ticket_id: int) -> PSATicketSnapshot | None:
    async with db.read() as session:
        stmt = select(PSATicketSnapshot).where(PSATicketSnapshot.ticket_id == ticket_id)
        return (await session.execute(stmt)).scalar_one_or_none()


async def count(db, model) -> int:
    async with db.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def set_preferences(db, preferences: dict[str, Any], *, account: str = "default") -> None:
    async with db.write() as session:
        acct = await get_account_by_slug(session, account)
        acct.preferences = {**(acct.preferences or {}), **preferences}
