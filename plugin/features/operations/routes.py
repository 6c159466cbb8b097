"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from plugin.features.operations.backlog import refresh_backlog
from plugin.kernel.errors import ServiceUnavailable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.migrate import current_revision, head_revision

routes = RouteTable("operations")
log = structlog.get_logger("fixpilot.health")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    migration: str


@routes.get("/healthz", summary="Liveness", auth="public", response=Health)
async def healthz(req: Req) -> Health:
    return Health()


@routes.get(
    "/readyz",
    summary="Readiness: database reachable and migrations at head",
    auth="public",
    response=Readiness,
    errors=(503,),
)
async def readyz(req: Req) -> Readiness:
    head = head_revision()
    try:
        async with req.database.read() as db:
            await db.execute(text("SELECT 1"))
            current = await current_revision(await db.connection())
    except Exception as exc:
        log.warning("readyz_database_unreachable", error=type(exc).__name__)
        raise ServiceUnavailable(
            "The database is not reachable.",
            code="database_unavailable",
            details={"error": type(exc).__name__},
        ) from None
    if current != head:
        raise ServiceUnavailable(
            "The database schema is not at the current migration; run `fixpilot migrate`.",
            code="migrations_pending",
            details={"current": current, "head": head},
        )
    return Readiness(status="ok", database="ok", migration=current)


@routes.get("/metrics", summary="Prometheus metrics", auth="public", response="text/plain")
async def metrics(req: Req) -> web.Response:
    m = req.metrics
    await refresh_backlog(req.database, m)
    return web.Response(body=m.render(), headers={"Content-Type": m.content_type})


@routes.get("/api/openapi.json", summary="This API's OpenAPI document", auth="public")
async def openapi(req: Req) -> web.Response:
    return web.json_response(req.request.app[OPENAPI])


OPENAPI = web.AppKey("openapi", dict)
