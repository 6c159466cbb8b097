"""How a request reaches a simulator handler, ConnectWise's way.

`site_middleware` plays the whole site's conditions (down, slow) and logs every request.
`api_entry` is the one aiohttp route for `/{codebase}/apis/3.0/{path}`: it injects queued
faults, authenticates, checks the API member's permissions, then finds the handler in an
`ApiRouter`, which matches paths case-insensitively as ConnectWise does
(`system/connectWiseHostedScreens` and `system/connectwisehostedscreens` are one resource).
Every refusal is answered in ConnectWise's error shape.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from providers.psa.simulator.auth import authenticate
from providers.psa.simulator.context import (
    ACTOR_KEY,
    PATH_PARAMS_KEY,
    cw_error,
    drop_connection,
    state_of,
)
from providers.psa.simulator.faults import InjectedFault
from providers.psa.simulator.records import SimError
from providers.psa.simulator.state import SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_ROUTE = "/{codebase}/apis/3.0/{cw_path:.*}"
_FAULT_CODES = {429: "TooManyRequests", 500: "UnexpectedError", 503: "ServiceUnavailable"}


class ApiRouter:
    """API paths relative to `apis/3.0/`; `{name}` in a template matches a numeric id."""

    def __init__(self, routes: list[tuple[str, str, Handler]]):
        self._routes = [
            (method, _compile(template), handler) for method, template, handler in routes
        ]

    def resolve(self, method: str, api_path: str) -> tuple[Handler, dict[str, str]]:
        path = api_path.strip("/")
        other_methods = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match.groupdict()
            other_methods = other_methods or match is not None
        if other_methods:
            raise SimError(405, "MethodNotAllowed", f"{method} is not allowed here")
        raise SimError(404, "NotFound", f"No resource at {api_path}")


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ...
    regex = "".join(
        f"(?P<{part}>\\d+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(regex, re.IGNORECASE)


def api_entry(router: ApiRouter) -> Handler:
    """The aiohttp handler for every API request, dispatching through `router`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        api_path = request.match_info["cw_path"]
        try:
            if request.match_info["codebase"] not in state.served_codebases:
                raise SimError(404, "NotFound", "No such codebase")
            fault = state.faults.take(request.method, api_path)
            if fault is not None:
                return _fault_response(fault)
            request[ACTOR_KEY] = authenticate(request, state)
            if _denied(state, request.method, api_path):
                raise SimError(
                    403, "Forbidden", "You do not have permission to access this resource"
                )
            handler, params = router.resolve(request.method, api_path)
            request[PATH_PARAMS_KEY] = params
            return await handler(request)
        except SimError as exc:
            return cw_error(exc.status, exc.code, exc.message, exc.errors)

    return handle


@web.middleware
async def site_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Site-wide conditions for everything but the admin API and the simulated screens."""
    state = state_of(request)
    if request.path.startswith("/_sim/"):
        return await handler(request)
    if state.site_url is None:
        state.site_url = f"{request.scheme}://{request.host}"
    cw_path = request.match_info.get("cw_path")
    if cw_path is not None:
        state.requests.append((request.method, cw_path))
    if state.faults.down:
        return drop_connection(request)
    if state.faults.latency:
        await asyncio.sleep(state.faults.latency)
    return await handler(request)


def _denied(state: SimulatorState, method: str, api_path: str) -> bool:
    for entry in state.denied_paths:
        denied_method, _, denied_path = entry.rpartition(" ")
        if denied_method and denied_method.upper() != method.upper():
            continue
        if api_path.lower().startswith(denied_path.strip("/").lower()):
            return True
    return False


def _fault_response(fault: InjectedFault) -> web.Response:
    response = cw_error(fault.status, _FAULT_CODES.get(fault.status, "Error"), "Injected fault")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
    return response
