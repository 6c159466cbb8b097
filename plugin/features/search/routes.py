"""Similar resolved work for a session, for the pod's task lane."""

from __future__ import annotations

from aiohttp import web

from plugin.features.search.expansion import expand_query
from plugin.features.search.schemas import SimilarList
from plugin.features.search.search import SimilarIndex
from plugin.features.search.service import session_query, similar_work
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.http import Req, RouteTable

SIMILAR_INDEX = web.AppKey("similar_index", SimilarIndex)

routes = RouteTable("similar-work")
SESSION = "/api/v1/ai-sessions/{session_id}"


@routes.get(
    SESSION + "/similar",
    summary="Similar resolved tickets: what fixed them, what failed, outcome and age",
    response=SimilarList,
    errors=(404,),
)
async def list_similar(req: Req) -> SimilarList:
    session_id = req.path_int("session_id")
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, session_id)
        version, query = ai_session.state_version, await session_query(db, ai_session)
    expansion = await expand_query(
        req.database, req.llm, req.account_id, session_id, version, query
    )
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, session_id)
        items = await similar_work(
            db, ai_session, expansion=expansion, index=req.app[SIMILAR_INDEX]
        )
    return SimilarList(items=items, state_version=version, expanded=bool(expansion))
