"""The application factory: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from plugin import health
from plugin.accounts import routes as account_routes
from plugin.accounts.auth import authenticate
from plugin.accounts.service import ensure_default_account, ensure_secret_key
from plugin.callbacks import routes as callback_routes
from plugin.callbacks.worker import callback_worker_ctx
from plugin.chat import routes as chat_routes
from plugin.db import Database
from plugin.fixes import decision as fix_decision
from plugin.fixes import routes as fix_routes
from plugin.http import (
    EMPTY,
    Req,
    RouteSpec,
    RouteTable,
    json_response,
    parse_json_body,
    parse_query,
)
from plugin.llm.service import build_llm
from plugin.metrics import Metrics
from plugin.middlewares import make_middlewares, security_headers
from plugin.notes import routes as note_routes
from plugin.notes.cache import PreviewCache
from plugin.openapi import build_openapi
from plugin.pod import routes as pod_routes
from plugin.psa import PSAProviders
from plugin.scripts import routes as script_routes
from plugin.services import Services
from plugin.sessions import routes as session_routes
from plugin.settings import Settings
from plugin.writeback import routes as writeback_routes
from plugin.writeback.worker import writeback_worker_ctx

SERVICES = web.AppKey("services", Services)


def route_tables() -> list[RouteTable]:
    return [
        health.routes,
        account_routes.routes,
        session_routes.routes,
        chat_routes.routes,
        fix_routes.routes,
        fix_decision.routes,
        script_routes.routes,
        note_routes.routes,
        callback_routes.routes,
        writeback_routes.routes,
        pod_routes.routes,
    ]


def create_app(settings: Settings) -> web.Application:
    metrics = Metrics()
    app = web.Application(middlewares=make_middlewares(metrics), client_max_size=2 * 1024**2)
    db = Database(settings.database_url)
    services = Services(
        settings=settings,
        db=db,
        metrics=metrics,
        preview_cache=PreviewCache(db),
        psa=PSAProviders(settings),
    )
    app[SERVICES] = services

    specs = [spec for table in route_tables() for spec in table.specs]
    for spec in specs:
        if spec.method == "GET":  # GET routes answer HEAD too
            app.router.add_get(spec.path, _adapt(spec, services))
        else:
            app.router.add_route(spec.method, spec.path, _adapt(spec, services))
    app[health.OPENAPI] = build_openapi(specs, title="Fixpilot", version=_version())

    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_database_ctx(services))
    app.cleanup_ctx.append(_llm_ctx(services))
    app.cleanup_ctx.append(_psa_ctx(services))
    app.cleanup_ctx.append(callback_worker_ctx(services))
    app.cleanup_ctx.append(writeback_worker_ctx(services))
    services.extras["preference_checks"] = [writeback_routes.check_statuses_exist]
    return app


def _adapt(spec: RouteSpec, services: Services):
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = None
        if spec.auth != "public":
            principal = await authenticate(request, services.db, spec.auth)
        body = await parse_json_body(request, spec.body) if spec.body else EMPTY
        query = parse_query(request, spec.query) if spec.query else EMPTY
        result = await spec.handler(Req(request, services, principal, body, query))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return json_response(result, spec.status)

    handler.__name__ = spec.handler.__name__
    return handler


def _database_ctx(services: Services):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services.secret_key = await ensure_secret_key(services.db, services.settings)
        await ensure_default_account(services.db, services.settings)
        yield
        await services.db.dispose()

    return ctx


def _llm_ctx(services: Services):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services.llm = build_llm(services)
        yield
        await services.llm.aclose()

    return ctx


def _psa_ctx(services: Services):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await services.psa.aclose()  # after the workers (registered later) have stopped

    return ctx


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fixpilot")
    except PackageNotFoundError:
        return "0.0.0"
