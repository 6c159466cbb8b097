"""What every simulator handler needs from its request: the state, the caller, the path's
ids, the JSON body; and ConnectWise's error answer."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from providers.psa.simulator.records import SimError
from providers.psa.simulator.state import SimulatorState

STATE_KEY = web.AppKey("connectwise_simulator_state", SimulatorState)
ACTOR_KEY = web.RequestKey("connectwise_simulator_actor", str)
# The named parts of the matched API path (e.g. "id"), set by the API router.
PATH_PARAMS_KEY = web.RequestKey("connectwise_simulator_path_params", dict)


def state_of(request: web.Request) -> SimulatorState:
    return request.app[STATE_KEY]


def actor_of(request: web.Request) -> str:
    return request[ACTOR_KEY]


def path_id(request: web.Request, name: str = "id") -> int:
    params = request.get(PATH_PARAMS_KEY) or request.match_info
    return int(params[name])


async def read_json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimError(400, "InvalidObject", "The request body is not valid JSON") from exc


def cw_error(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> web.Response:
    """ConnectWise's error body: `errors` is a list of field-level reasons, or null."""
    return web.json_response({"code": code, "message": message, "errors": errors}, status=status)


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket without an answer; the returned response is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()
