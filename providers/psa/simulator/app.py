"""The ConnectWise simulator as an aiohttp application.

- the REST API under `/{codebase}/apis/3.0/` (`v4_6_release`, and the versioned codebase
  when the site plays Cloud): ConnectWise's paths, auth, pagination, conditions, errors and
  quirks (`dispatch`, `service_api`, `system_api`);
- site pages outside the API: `/login/companyinfo/{companyId}` and the callback signing-key
  URL `/{codebase}/system/callbackkey/index.rails`;
- a small unauthenticated admin API under `/_sim/` (`admin`) and a simulated ticket screen
  that hosts pods (`hosted`).

The simulator is a local test tool: never expose it beyond the loopback interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from providers.psa.simulator.admin import ADMIN_ROUTES
from providers.psa.simulator.context import STATE_KEY
from providers.psa.simulator.dispatch import API_ROUTE, ApiRouter, api_entry, site_middleware
from providers.psa.simulator.emitter import CallbackEmitter
from providers.psa.simulator.hosted import HOSTED_ROUTES
from providers.psa.simulator.knowledge_api import KNOWLEDGE_ROUTES
from providers.psa.simulator.service_api import SERVICE_ROUTES
from providers.psa.simulator.state import SimulatorState
from providers.psa.simulator.system_api import SITE_ROUTES, SYSTEM_ROUTES

__all__ = ["STATE_KEY", "create_simulator_app"]


def create_simulator_app(
    state: SimulatorState | None = None, *, state_file: Path | None = None
) -> web.Application:
    """With `state_file`, the records are saved there after every request that may have
    changed them and when the app stops, so a restart (even an abrupt one) keeps them."""
    autosave = [] if state_file is None else [_autosave(state_file)]
    app = web.Application(middlewares=[*autosave, site_middleware])
    app[STATE_KEY] = state if state is not None else SimulatorState.demo()
    app.cleanup_ctx.append(_callback_emitter)
    if state_file is not None:

        async def save_on_stop(app: web.Application) -> None:
            app[STATE_KEY].save(state_file)

        app.on_cleanup.append(save_on_stop)

    app.router.add_routes(ADMIN_ROUTES)
    app.router.add_routes(HOSTED_ROUTES)  # the simulated ticket screen (pods)
    app.router.add_routes(SITE_ROUTES)
    api_routes = SERVICE_ROUTES + KNOWLEDGE_ROUTES + SYSTEM_ROUTES
    app.router.add_route("*", API_ROUTE, api_entry(ApiRouter(api_routes)))
    return app


_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


def _autosave(state_file: Path):
    @web.middleware
    async def autosave(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method not in _READ_ONLY and response.status < 400:
            request.app[STATE_KEY].save(state_file)
        return response

    return autosave


async def _callback_emitter(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    async with aiohttp.ClientSession() as session:
        state.emitter = CallbackEmitter(state, session)
        yield
        await state.emitter.drain()
        state.emitter = None
