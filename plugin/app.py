"""The application factory: wiring only. Every shared resource is created here and put
under its typed `AppKey`; routes come from each feature's route table; background workers
run in `cleanup_ctx` and stop there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version

import structlog
from aiohttp import web

from plugin.features.accounts import routes as account_routes
from plugin.features.accounts import token_routes
from plugin.features.accounts.auth import TOKEN_CACHE, TokenCache, authenticate
from plugin.features.accounts.service import ensure_default_account
from plugin.features.callbacks import routes as callback_routes
from plugin.features.callbacks.intake import CALLBACK_INTAKE, CallbackIntake
from plugin.features.callbacks.worker import callback_worker
from plugin.features.chat import routes as chat_routes
from plugin.features.checks import routes as check_routes
from plugin.features.fixes import routes as fix_routes
from plugin.features.notes import kb_routes
from plugin.features.notes import routes as note_routes
from plugin.features.notes.cache import PREVIEW_CACHE, PreviewCache
from plugin.features.operations import routes as operation_routes
from plugin.features.pod import routes as pod_routes
from plugin.features.pod.signin import POD_SIGN_IN, PodSignIn
from plugin.features.psa_setup import routes as psa_setup_routes
from plugin.features.scripts import builder_routes
from plugin.features.scripts import routes as script_routes
from plugin.features.scripts.shipped import load_shipped_library_everywhere
from plugin.features.search import routes as search_routes
from plugin.features.search.routes import SIMILAR_INDEX
from plugin.features.search.search import shared_index
from plugin.features.sessions import routes as session_routes
from plugin.features.sessions import secret_routes as session_secret_routes
from plugin.features.writeback import routes as writeback_routes
from plugin.features.writeback.worker import writeback_worker
from plugin.kernel.appkeys import DATABASE, INSTANCE, LLM, METRICS, PSA, SETTINGS, InstanceKeys
from plugin.kernel.db import Database
from plugin.kernel.http import (
    EMPTY,
    Req,
    RouteSpec,
    RouteTable,
    json_response,
    parse_json_body,
    parse_query,
)
from plugin.kernel.llm import build_llm
from plugin.kernel.llm_gate import GuardedLLM
from plugin.kernel.metrics import Metrics
from plugin.kernel.middlewares import make_middlewares, security_headers
from plugin.kernel.migrate import current_revision, head_revision
from plugin.kernel.openapi import build_openapi
from plugin.kernel.psa import PSAConnections
from plugin.kernel.settings import Settings
from plugin.views import sessions as session_views

log = structlog.get_logger("fixpilot.app")


def route_tables() -> list[RouteTable]:
    return [
        operation_routes.routes,
        account_routes.routes,
        token_routes.routes,
        session_views.routes,
        session_routes.routes,
        session_secret_routes.routes,
        chat_routes.routes,
        check_routes.routes,
        fix_routes.routes,
        script_routes.routes,
        builder_routes.routes,
        note_routes.routes,
        kb_routes.routes,
        search_routes.routes,
        callback_routes.routes,
        writeback_routes.routes,
        psa_setup_routes.routes,
        pod_routes.routes,
    ]


def create_app(settings: Settings, *, workers: bool = True) -> web.Application:
    """The service. `workers=False` (`serve --no-worker`) leaves the background work to
    `fixpilot worker` processes: the production layout, serve ×N and worker ×M."""
    metrics = Metrics()
    app = web.Application(
        middlewares=make_middlewares(metrics),
        client_max_size=2 * 1024**2,
        # aiohttp has no header timeout of its own; its keep-alive timer runs from the
        # connection's start and closes a connection still waiting for a whole request head.
        handler_args={"keepalive_timeout": settings.header_read_timeout_seconds},
    )
    database = Database(settings.database_url)
    instance = InstanceKeys()
    psa = PSAConnections(settings, instance)  # opens the private keys with the instance secret
    intake = CallbackIntake(database, psa, metrics=metrics)
    app[SETTINGS] = settings
    app[DATABASE] = database
    app[METRICS] = metrics
    app[PSA] = psa
    app[LLM] = GuardedLLM(build_llm(settings, database, metrics), database, instance)
    app[INSTANCE] = instance
    app[PREVIEW_CACHE] = PreviewCache(database)
    app[TOKEN_CACHE] = TokenCache()
    app[SIMILAR_INDEX] = shared_index()
    app[CALLBACK_INTAKE] = intake
    app[POD_SIGN_IN] = PodSignIn(database, psa, instance, metrics=metrics)

    specs = [spec for table in route_tables() for spec in table.specs]
    for spec in specs:
        if spec.method == "GET":  # GET routes answer HEAD too
            app.router.add_get(spec.path, _adapt(spec))
        else:
            app.router.add_route(spec.method, spec.path, _adapt(spec))
    app[operation_routes.OPENAPI] = build_openapi(specs, title="Fixpilot", version=_version())

    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.extend(
        [
            _on_start_and_stop(_load_instance(app), database.dispose),
            _on_start_and_stop(None, intake.aclose),  # waiting stores land before dispose
            _on_start_and_stop(None, lambda: app[LLM].aclose()),
        ]
    )
    if workers:
        app.cleanup_ctx.extend(_workers(app, intake))
    else:
        app.cleanup_ctx.append(_on_start_and_stop(None, psa.aclose))
    return app


def create_worker_app(settings: Settings) -> web.Application:
    """`fixpilot worker`: the background workers with no HTTP server, run by an AppRunner
    without a site so start-up and shutdown are the service's own."""
    app = web.Application()
    database = Database(settings.database_url)
    app[SETTINGS] = settings
    app[DATABASE] = database
    app[METRICS] = Metrics()
    instance = InstanceKeys()
    app[PSA] = PSAConnections(settings, instance)  # opens the private keys once it is loaded
    app[INSTANCE] = instance
    app.cleanup_ctx.append(_on_start_and_stop(_load_instance(app), database.dispose))
    app.cleanup_ctx.extend(_workers(app, None))
    return app


def _workers(app: web.Application, intake: CallbackIntake | None) -> list[Callable]:
    database, psa, metrics = app[DATABASE], app[PSA], app[METRICS]
    poll = app[SETTINGS].worker_poll_seconds
    return [
        _on_start_and_stop(None, psa.aclose),  # after the workers below have stopped
        callback_worker(database, psa, metrics, poll, app[INSTANCE].box, intake),
        writeback_worker(database, psa, metrics, poll),
    ]


def _adapt(spec: RouteSpec):
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = None
        if spec.auth != "public":
            principal = await authenticate(request, request.app[DATABASE], spec.auth)
        body = await parse_json_body(request, spec.body) if spec.body else EMPTY
        query = parse_query(request, spec.query) if spec.query else EMPTY
        result = await spec.handler(Req(request, principal, body, query))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return json_response(result, spec.status)

    handler.__name__ = spec.handler.__name__
    return handler


def _load_instance(app: web.Application) -> Callable:
    async def start() -> None:
        settings, database = app[SETTINGS], app[DATABASE]
        async with database.read() as db:
            current = await current_revision(await db.connection())
        if current != head_revision():
            # Serve anyway: /readyz says what is wrong, and `fixpilot migrate` fixes it.
            log.warning("migrations_pending", current=current, head=head_revision())
            return
        keys = await ensure_default_account(database, settings)
        app[INSTANCE].secret_key, app[INSTANCE].fallbacks = keys.secret_key, keys.fallbacks
        if settings.shipped_library:  # first start, and upgrades of the shipped library
            await load_shipped_library_everywhere(database)

    return start


def _on_start_and_stop(start: Callable | None, stop: Callable):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if start is not None:
            await start()
        yield
        await stop()

    return ctx


def _version() -> str:
    try:
        return version("fixpilot")
    except PackageNotFoundError:
        return "0.0.0"
