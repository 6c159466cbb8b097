"""A session's chat history and its facts over HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.sessions.models import Fact, Message
from plugin.features.sessions.schemas import (
    FactCreate,
    FactList,
    FactOut,
    MessagePage,
    MessageQuery,
)
from plugin.features.sessions.service import fact_out, message_out
from plugin.kernel.ai_sessions import bump_state_version, get_ai_session, require_active
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.pagination import fetch_page
from plugin.kernel.secret_memory import take_in
from plugin.kernel.states import FactSource
from plugin.kernel.tenancy import get_owned

routes = RouteTable("ai-sessions")
SESSION = "/api/v1/ai-sessions/{session_id}"


@routes.get(
    SESSION + "/messages",
    summary="The session's chat, oldest first",
    query=MessageQuery,
    response=MessagePage,
    errors=(404,),
)
async def list_messages(req: Req[Any, MessageQuery]) -> MessagePage:
    q = req.query
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        stmt = select(Message).where(Message.session_id == ai_session.id)
        rows, cursor = await fetch_page(db, stmt, Message.id, q.cursor, q.limit, newest_first=False)
    return MessagePage(items=[message_out(m) for m in rows], next_cursor=cursor)


@routes.post(
    SESSION + "/facts",
    summary="Record a confirmed observation",
    body=FactCreate,
    response=FactOut,
    status=201,
    errors=(404, 409),
)
async def create_fact(req: Req[FactCreate, Any]) -> FactOut:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        taken = await take_in(
            tx, req.instance.box(), ai_session.id, req.body.text.strip(), source="fact"
        )
        fact = Fact(
            session_id=ai_session.id,
            text=taken.text,
            redactions=taken.redactions or None,
            source=FactSource.ENGINEER,
        )
        tx.add(fact)
        await tx.flush()
        version = await bump_state_version(tx, ai_session.id)
        return fact_out(fact, version)


@routes.get(SESSION + "/facts", summary="The session's facts", response=FactList, errors=(404,))
async def list_facts(req: Req) -> FactList:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        facts = (
            await db.execute(select(Fact).where(Fact.session_id == ai_session.id).order_by(Fact.id))
        ).scalars()
        return FactList(items=[fact_out(f) for f in facts])


async def _get_fact(db: AsyncSession, ai_session_id: int, fact_id: int) -> Fact:
    return await get_owned(
        db, Fact, fact_id, owner=Fact.session_id, owner_id=ai_session_id, what="Fact"
    )


@routes.patch(
    SESSION + "/facts/{fact_id}",
    summary="Correct a fact",
    body=FactCreate,
    response=FactOut,
    errors=(404, 409),
)
async def update_fact(req: Req[FactCreate, Any]) -> FactOut:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        fact = await _get_fact(tx, ai_session.id, req.path_int("fact_id"))
        taken = await take_in(
            tx, req.instance.box(), ai_session.id, req.body.text.strip(), source="fact"
        )
        fact.text, fact.redactions = taken.text, taken.redactions or None
        await tx.flush()
        version = await bump_state_version(tx, ai_session.id)
        return fact_out(fact, version)


@routes.delete(SESSION + "/facts/{fact_id}", summary="Delete a fact", status=204, errors=(404, 409))
async def delete_fact(req: Req) -> None:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(
            tx, req.account_id, req.path_int("session_id"), for_update=True
        )
        require_active(ai_session)
        fact = await _get_fact(tx, ai_session.id, req.path_int("fact_id"))
        await tx.delete(fact)
        await bump_state_version(tx, ai_session.id)
