"""AI sessions and their facts over HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from plugin.accounts.scope import get_owned
from plugin.http import Req, RouteTable
from plugin.pagination import fetch_page
from plugin.sessions.models import AISession, Fact, Message
from plugin.sessions.schemas import (
    FactCreate,
    FactList,
    FactOut,
    MessageOut,
    MessagePage,
    MessageQuery,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionQuery,
)
from plugin.sessions.service import (
    bump_state_version,
    get_session,
    nudge_delay,
    require_active,
    session_out,
    sessions_out,
)
from plugin.sessions.ticket_link import fetch_ticket_context

routes = RouteTable("ai-sessions")
SESSION = "/api/v1/ai-sessions/{session_id}"


@routes.post(
    "/api/v1/ai-sessions",
    summary="Open an AI session, optionally linked to a PSA ticket",
    body=SessionCreate,
    response=SessionOut,
    status=201,
)
async def create_session(req: Req[SessionCreate, Any]) -> SessionOut:
    services = req.services
    context = None
    if req.body.psa_ticket_id is not None:
        context = await fetch_ticket_context(services, req.account_id, req.body.psa_ticket_id)
    async with services.db.write() as session:
        ai_session = AISession(
            account_id=req.account_id,
            title=req.body.title.strip(),
            psa_ticket_id=req.body.psa_ticket_id,
            status="active",
            state_version=1,
            ticket_state="open" if req.body.psa_ticket_id else None,
            ticket_context=context,
            created_by=req.principal.actor,
        )
        session.add(ai_session)
        await session.flush()
        delay = await nudge_delay(session, req.account_id, services.settings.nudge_after_minutes)
        return await session_out(session, ai_session, nudge_after=delay)


@routes.get(
    "/api/v1/ai-sessions",
    summary="List AI sessions, newest first (filter by psa_ticket_id)",
    query=SessionQuery,
    response=SessionPage,
)
async def list_sessions(req: Req[Any, SessionQuery]) -> SessionPage:
    q = req.query
    stmt = select(AISession).where(AISession.account_id == req.account_id)
    if q.psa_ticket_id is not None:
        stmt = stmt.where(AISession.psa_ticket_id == q.psa_ticket_id)
    if q.status is not None:
        stmt = stmt.where(AISession.status == q.status)
    async with req.services.db.read() as session:
        rows, cursor = await fetch_page(
            session, stmt, AISession.id, q.cursor, q.limit, newest_first=True
        )
        delay = await nudge_delay(
            session, req.account_id, req.services.settings.nudge_after_minutes
        )
        items = await sessions_out(session, rows, nudge_after=delay)
    return SessionPage(items=items, next_cursor=cursor)


@routes.get(
    SESSION,
    summary="One AI session with its state_version, active fix and banner mode",
    response=SessionOut,
    errors=(404,),
)
async def get_one_session(req: Req) -> SessionOut:
    async with req.services.db.read() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        delay = await nudge_delay(
            session, req.account_id, req.services.settings.nudge_after_minutes
        )
        return await session_out(session, ai_session, nudge_after=delay)


@routes.get(
    SESSION + "/messages",
    summary="The session's chat, oldest first",
    query=MessageQuery,
    response=MessagePage,
    errors=(404,),
)
async def list_messages(req: Req[Any, MessageQuery]) -> MessagePage:
    q = req.query
    async with req.services.db.read() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        stmt = select(Message).where(Message.session_id == ai_session.id)
        rows, cursor = await fetch_page(
            session, stmt, Message.id, q.cursor, q.limit, newest_first=False
        )
    return MessagePage(items=[message_out(m) for m in rows], next_cursor=cursor)


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.id,
        role=m.role,
        content=m.content,
        generator=m.generator,
        reply_to_id=m.reply_to_id,
        created_at=m.created_at,
    )


def fact_out(f: Fact, state_version: int | None = None) -> FactOut:
    return FactOut(
        id=f.id,
        text=f.text,
        source=f.source,
        created_at=f.created_at,
        updated_at=f.updated_at,
        state_version=state_version,
    )


@routes.post(
    SESSION + "/facts",
    summary="Record a confirmed observation",
    body=FactCreate,
    response=FactOut,
    status=201,
    errors=(404, 409),
)
async def create_fact(req: Req[FactCreate, Any]) -> FactOut:
    async with req.services.db.write() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        require_active(ai_session)
        fact = Fact(session_id=ai_session.id, text=req.body.text.strip(), source="engineer")
        session.add(fact)
        await session.flush()
        version = await bump_state_version(session, ai_session.id)
        return fact_out(fact, version)


@routes.get(SESSION + "/facts", summary="The session's facts", response=FactList, errors=(404,))
async def list_facts(req: Req) -> FactList:
    async with req.services.db.read() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        facts = (
            await session.execute(
                select(Fact).where(Fact.session_id == ai_session.id).order_by(Fact.id)
            )
        ).scalars()
        return FactList(items=[fact_out(f) for f in facts])


async def _get_fact(session, ai_session_id: int, fact_id: int) -> Fact:
    return await get_owned(
        session, Fact, fact_id, owner=Fact.session_id, owner_id=ai_session_id, what="Fact"
    )


@routes.patch(
    SESSION + "/facts/{fact_id}",
    summary="Correct a fact",
    body=FactCreate,
    response=FactOut,
    errors=(404, 409),
)
async def update_fact(req: Req[FactCreate, Any]) -> FactOut:
    async with req.services.db.write() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        require_active(ai_session)
        fact = await _get_fact(session, ai_session.id, req.path_int("fact_id"))
        fact.text = req.body.text.strip()
        await session.flush()
        version = await bump_state_version(session, ai_session.id)
        return fact_out(fact, version)


@routes.delete(SESSION + "/facts/{fact_id}", summary="Delete a fact", status=204, errors=(404, 409))
async def delete_fact(req: Req) -> None:
    async with req.services.db.write() as session:
        ai_session = await get_session(session, req.account_id, req.path_int("session_id"))
        require_active(ai_session)
        fact = await _get_fact(session, ai_session.id, req.path_int("fact_id"))
        await session.delete(fact)
        await bump_state_version(session, ai_session.id)
