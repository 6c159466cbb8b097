"""The ConnectWise simulator as an aiohttp application.

REST API under `/v4_6_release/apis/3.0/` (ConnectWise's paths, auth, pagination, errors and
quirks), `GET /login/companyinfo/{companyId}` at the site root, and a small unauthenticated
admin API under `/_sim/` for demos (fault injection, simulated technicians). The simulator is
a local test tool: never expose it beyond the loopback interface.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

import aiohttp
from aiohttp import web

from providers.psa.simulator.emitter import CallbackEmitter
from providers.psa.simulator.hosted import hosted_routes
from providers.psa.simulator.state import (
    API_PREFIX,
    HUMAN_MEMBER,
    SIGNING_KEY_PATH,
    InjectedFault,
    SimBoard,
    SimError,
    SimulatorState,
)

STATE_KEY = web.AppKey("connectwise_simulator_state", SimulatorState)
_ACTOR = web.RequestKey("connectwise_simulator_actor", str)
_DEFAULT_PAGE_SIZE = 25
_MAX_PAGE_SIZE = 1000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_simulator_app(state: SimulatorState | None = None) -> web.Application:
    app = web.Application(middlewares=[_simulate])
    app[STATE_KEY] = state if state is not None else SimulatorState.demo()
    app.cleanup_ctx.append(_callback_emitter)

    api = [
        web.get("service/tickets", list_tickets),
        web.get(r"service/tickets/{id:\d+}", get_ticket),
        web.patch(r"service/tickets/{id:\d+}", patch_ticket),
        web.get(r"service/tickets/{id:\d+}/notes", list_notes),
        web.post(r"service/tickets/{id:\d+}/notes", post_note),
        web.get("service/boards", list_boards),
        web.get(r"service/boards/{id:\d+}", get_board),
        web.get(r"service/boards/{id:\d+}/statuses", list_board_statuses),
        web.get("system/callbacks", list_callbacks),
        web.post("system/callbacks", post_callback),
        web.get(SIGNING_KEY_PATH, get_signing_key),
        web.get(r"system/callbacks/{id:\d+}", get_callback),
        web.patch(r"system/callbacks/{id:\d+}", patch_callback),
        web.put(r"system/callbacks/{id:\d+}", put_callback),
        web.delete(r"system/callbacks/{id:\d+}", delete_callback),
        web.get("system/myMembers/info", my_member_info),
        web.get("system/connectwisehostedsetups", list_hosted_setups),
        web.post("system/connectwisehostedsetups", post_hosted_setup),
    ]
    for route in api:
        app.router.add_route(route.method, f"{API_PREFIX}/{route.path}", route.handler)
    app.router.add_get("/login/companyinfo/{company}", company_info)

    app.router.add_get("/_sim/state", sim_state)
    app.router.add_post("/_sim/faults", sim_fail_next)
    app.router.add_post("/_sim/faults/latency", sim_latency)
    app.router.add_post("/_sim/faults/drop-after-note", sim_drop_after_note)
    app.router.add_post("/_sim/faults/down", sim_down)
    app.router.add_post("/_sim/faults/reset", sim_reset_faults)
    app.router.add_post("/_sim/denied-paths", sim_denied_paths)
    app.router.add_post("/_sim/workflow-revert", sim_workflow_revert)
    app.router.add_post("/_sim/signing-key/rotate", sim_rotate_key)
    app.router.add_post(r"/_sim/tickets/{id:\d+}/{action:update|close|merge|move}", sim_human)
    app.router.add_routes(hosted_routes(STATE_KEY))  # the simulated ticket screen (pods)
    return app


async def _callback_emitter(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    async with aiohttp.ClientSession() as session:
        state.emitter = CallbackEmitter(state, session)
        yield
        await state.emitter.drain()
        state.emitter = None


# --- middleware: faults, auth, permissions, ConnectWise-shaped errors ----------------------


@web.middleware
async def _simulate(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if request.path.startswith("/_sim/"):
        return await handler(request)
    if state.site_url is None:
        state.site_url = f"{request.scheme}://{request.host}"
    is_api = request.path.startswith(API_PREFIX + "/")
    api_path = request.path[len(API_PREFIX) + 1 :] if is_api else ""
    if is_api:
        state.requests.append((request.method, api_path))
    if state.faults.down:
        return _drop_connection(request)
    if state.faults.latency:
        await asyncio.sleep(state.faults.latency)
    if not is_api:
        return await handler(request)

    fault = state.faults.take(request.method, api_path)
    if fault is not None:
        return _fault_response(fault)
    try:
        request[_ACTOR] = _authenticate(request, state)
        if _denied(state, request.method, api_path):
            raise SimError(403, "Forbidden", "You do not have permission to access this resource")
        return await handler(request)
    except SimError as exc:
        return _cw_error(exc.status, exc.code, exc.message, exc.errors)
    except web.HTTPNotFound:
        return _cw_error(404, "NotFound", f"No resource at {api_path}")
    except web.HTTPMethodNotAllowed:
        return _cw_error(405, "MethodNotAllowed", f"{request.method} is not allowed here")


def _authenticate(request: web.Request, state: SimulatorState) -> str:
    """The identifier of the caller: the API member (key pair) or a member (member hash)."""
    if request.headers.get("clientId") != state.client_id:
        raise SimError(401, "Unauthorized", "The clientId header is missing or not recognised")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    user, _, secret = decoded.partition(":")
    company, _, username = user.partition("+")
    if scheme.lower() == "basic" and company.lower() == state.company_id.lower() and secret:
        if username == state.public_key and hmac.compare_digest(secret, state.private_key):
            return state.api_member_id
        member = state.member(username)
        if member and member.member_hash and hmac.compare_digest(secret, member.member_hash):
            return member.identifier
    raise SimError(401, "Unauthorized", "Unable to authenticate with the credentials provided")


def _denied(state: SimulatorState, method: str, api_path: str) -> bool:
    for entry in state.denied_paths:
        denied_method, _, denied_path = entry.rpartition(" ")
        if denied_method and denied_method.upper() != method.upper():
            continue
        if api_path.lower().startswith(denied_path.strip("/").lower()):
            return True
    return False


def _fault_response(fault: InjectedFault) -> web.Response:
    codes = {429: "TooManyRequests", 500: "UnexpectedError", 503: "ServiceUnavailable"}
    response = _cw_error(fault.status, codes.get(fault.status, "Error"), "Injected fault")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
    return response


def _drop_connection(request: web.Request) -> web.Response:
    """Close the socket without an answer; the returned response is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def _cw_error(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> web.Response:
    return web.json_response({"code": code, "message": message, "errors": errors}, status=status)


# --- REST handlers -------------------------------------------------------------------------


async def list_tickets(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tickets = sorted(state.tickets.values(), key=lambda t: t["id"])
    conditions = request.query.get("conditions")
    if conditions:
        tickets = [t for t in tickets if _matches_conditions(t, conditions)]
    return _page(request, tickets)


async def get_ticket(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].ticket(_id(request)))


async def patch_ticket(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ticket = state.patch_ticket(_id(request), await _json(request), request[_ACTOR])
    return web.json_response(ticket)


async def list_notes(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ticket_id = _id(request)
    state.ticket(ticket_id)
    return _page(request, state.notes.get(ticket_id, []))


async def post_note(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    note = state.add_note(_id(request), await _json(request), request[_ACTOR])
    if state.faults.drop_after_note_stored > 0:
        state.faults.drop_after_note_stored -= 1
        return _drop_connection(request)
    return web.json_response(note, status=201)


async def list_boards(request: web.Request) -> web.Response:
    boards = request.app[STATE_KEY].boards
    return _page(request, [b.to_cw() for _, b in sorted(boards.items())])


async def get_board(request: web.Request) -> web.Response:
    return web.json_response(_board(request).to_cw())


async def list_board_statuses(request: web.Request) -> web.Response:
    board = _board(request)
    return _page(request, [s.to_cw(board) for s in board.statuses])


async def list_callbacks(request: web.Request) -> web.Response:
    callbacks = request.app[STATE_KEY].callbacks
    return _page(request, [cb for _, cb in sorted(callbacks.items())])


async def post_callback(request: web.Request) -> web.Response:
    callback = request.app[STATE_KEY].add_callback(await _json(request))
    return web.json_response(callback, status=201)


async def get_callback(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].callback(_id(request)))


async def patch_callback(request: web.Request) -> web.Response:
    callback = request.app[STATE_KEY].callback(_id(request))
    ops = await _json(request)
    if not isinstance(ops, list):
        raise SimError(400, "InvalidObject", "A JSON Patch array is required")
    for op in ops:
        path = str(op.get("path") if isinstance(op, dict) else "").strip("/")
        if not isinstance(op, dict) or op.get("op") not in ("replace", "add") or "/" in path:
            raise SimError(400, "InvalidObject", "Only top-level replace/add is supported")
        if path not in ("id", "_info"):
            callback[path] = op.get("value")
    return web.json_response(callback)


async def put_callback(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    callback = state.callback(_id(request))
    body = await _json(request)
    if not isinstance(body, dict):
        raise SimError(400, "InvalidObject", "A callback object is required")
    callback.update({k: v for k, v in body.items() if k not in ("id", "_info")})
    return web.json_response(callback)


async def delete_callback(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.callback(_id(request))
    del state.callbacks[_id(request)]
    return web.Response(status=204)


async def get_signing_key(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    key_id = request.query.get("keyId")
    key = state.signing_keys.get(int(key_id)) if key_id and key_id.isdigit() else None
    if key_id is None:
        key = state.signing_key
    if key is None:
        raise SimError(404, "NotFound", "Signing key not found")
    return web.json_response({"signing_key": key})


async def my_member_info(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    member = state.member(request[_ACTOR])
    return web.json_response(member.to_cw() if member else {"identifier": request[_ACTOR]})


async def list_hosted_setups(request: web.Request) -> web.Response:
    setups = request.app[STATE_KEY].hosted_setups
    return _page(request, [s for _, s in sorted(setups.items())])


async def post_hosted_setup(request: web.Request) -> web.Response:
    setup = request.app[STATE_KEY].add_hosted_setup(await _json(request))
    return web.json_response(setup, status=201)


async def company_info(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.match_info["company"].lower() != state.company_id.lower():
        return _cw_error(404, "NotFound", "Company not found")
    return web.json_response(
        {
            "CompanyName": "Fixpilot Demo MSP",
            "Codebase": API_PREFIX.strip("/").split("/")[0] + "/",
            "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.2025.1",
            "CompanyID": state.company_id,
            "IsCloud": False,
            "SiteUrl": request.host,
        }
    )


# --- admin API (/_sim/) --------------------------------------------------------------------


async def sim_state(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return web.json_response(
        {
            "api_url": state.api_url,
            "company_id": state.company_id,
            "client_id": state.client_id,
            "api_member_id": state.api_member_id,
            "tickets": sorted(state.tickets),
            "callbacks": list(state.callbacks.values()),
            "hosted_setups": list(state.hosted_setups.values()),
            "deliveries": [asdict(d) for d in state.deliveries],
            "faults": asdict(state.faults),
            "denied_paths": sorted(state.denied_paths),
            "workflow_revert_status": state.workflow_revert_status,
            "current_key_id": state.current_key_id,
        }
    )


async def sim_fail_next(request: web.Request) -> web.Response:
    body = await _admin_json(request)
    request.app[STATE_KEY].faults.fail_next(
        int(body["status"]),
        int(body.get("count", 1)),
        retry_after=body.get("retry_after"),
        method=body.get("method"),
        path=body.get("path"),
    )
    return web.json_response({"ok": True})


async def sim_latency(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.latency = float((await _admin_json(request))["seconds"])
    return web.json_response({"ok": True})


async def sim_drop_after_note(request: web.Request) -> web.Response:
    count = int((await _admin_json(request)).get("count", 1))
    request.app[STATE_KEY].faults.drop_after_note_stored = count
    return web.json_response({"ok": True})


async def sim_down(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.down = bool((await _admin_json(request)).get("down", True))
    return web.json_response({"ok": True})


async def sim_reset_faults(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.reset()
    return web.json_response({"ok": True})


async def sim_denied_paths(request: web.Request) -> web.Response:
    paths = (await _admin_json(request)).get("paths") or []
    request.app[STATE_KEY].denied_paths = {str(p) for p in paths}
    return web.json_response({"ok": True})


async def sim_workflow_revert(request: web.Request) -> web.Response:
    rules = (await _admin_json(request)).get("rules") or {}
    request.app[STATE_KEY].workflow_revert_status = {int(k): int(v) for k, v in rules.items()}
    return web.json_response({"ok": True})


async def sim_rotate_key(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.rotate_signing_key()
    return web.json_response({"key_id": state.current_key_id, "key_url": state.key_url()})


async def sim_human(request: web.Request) -> web.Response:
    """A technician changes a ticket in ConnectWise: update, close, merge or move."""
    state = request.app[STATE_KEY]
    ticket_id = _id(request)
    body = await _admin_json(request)
    member = str(body.pop("member", HUMAN_MEMBER))
    action = request.match_info["action"]
    try:
        if action == "close":
            ticket = state.close_ticket(ticket_id, status_id=body.get("status_id"), member=member)
        elif action == "merge":
            ticket = state.merge_ticket(ticket_id, int(body["parent_id"]), member=member)
        elif action == "move":
            ticket = state.move_board(ticket_id, int(body["board_id"]), member=member)
        else:
            ticket = state.human_update(ticket_id, member=member, **body)
    except SimError as exc:
        return _cw_error(exc.status, exc.code, exc.message)
    except (KeyError, ValueError, TypeError) as exc:
        return _cw_error(400, "InvalidObject", f"bad simulator request: {exc}")
    return web.json_response(ticket)


# --- helpers -------------------------------------------------------------------------------


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _board(request: web.Request) -> SimBoard:
    board = request.app[STATE_KEY].boards.get(_id(request))
    if board is None:
        raise SimError(404, "NotFound", f"Board ID {_id(request)} not found")
    return board


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimError(400, "InvalidObject", "The request body is not valid JSON") from exc


async def _admin_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise web.HTTPBadRequest(text="body is not JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """One page of a list, with ConnectWise's `Link` header when there is more than one."""
    try:
        page = max(1, int(request.query.get("page", 1)))
        size = min(_MAX_PAGE_SIZE, max(1, int(request.query.get("pageSize", _DEFAULT_PAGE_SIZE))))
    except ValueError as exc:
        raise SimError(400, "InvalidObject", "page and pageSize must be integers") from exc
    last = max(1, -(-len(items) // size))
    response = web.json_response(items[(page - 1) * size : page * size])
    links = []

    def link(number: int, rel: str) -> str:
        url = request.url.update_query({"page": str(number), "pageSize": str(size)})
        return f'<{url}>; rel="{rel}"'

    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


_CONDITION = re.compile(r"^\s*([\w/]+)\s*=\s*(.+?)\s*$")


def _matches_conditions(ticket: dict[str, Any], conditions: str) -> bool:
    """The simple `a/b=value and c=value` subset of ConnectWise conditions."""
    for clause in re.split(r"\s+and\s+", conditions, flags=re.IGNORECASE):
        match = _CONDITION.match(clause)
        if not match:
            raise SimError(400, "InvalidCondition", f"Unsupported condition: {clause}")
        path, raw_value = match.groups()
        actual: Any = ticket
        for part in path.split("/"):
            actual = actual.get(part) if isinstance(actual, dict) else None
        expected = raw_value.strip('"')
        if isinstance(actual, bool):
            if actual != (expected.lower() == "true"):
                return False
        elif str(actual) != expected:
            return False
    return True
