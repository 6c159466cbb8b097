"""The simulator's small admin API under `/_sim/` for demos: inspect the state, inject faults,
set permissions and workflow rules, rotate the signing key, switch to Cloud, and make
changes as a technician in ConnectWise would. Unauthenticated: loopback use only."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from providers.psa.simulator.context import cw_error, path_id, state_of
from providers.psa.simulator.records import HUMAN_MEMBER, SimError


async def sim_state(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response(
        {
            "api_url": state.api_url,
            "company_id": state.company_id,
            "client_id": state.client_id,
            "api_member_id": state.api_member_id,
            "cloud": state.cloud,
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
    state_of(request).faults.fail_next(
        int(body["status"]),
        int(body.get("count", 1)),
        retry_after=body.get("retry_after"),
        method=body.get("method"),
        path=body.get("path"),
    )
    return _ok()


async def sim_latency(request: web.Request) -> web.Response:
    state_of(request).faults.latency = float((await _admin_json(request))["seconds"])
    return _ok()


async def sim_drop_after_note(request: web.Request) -> web.Response:
    count = int((await _admin_json(request)).get("count", 1))
    state_of(request).faults.drop_after_note_stored = count
    return _ok()


async def sim_down(request: web.Request) -> web.Response:
    state_of(request).faults.down = bool((await _admin_json(request)).get("down", True))
    return _ok()


async def sim_reset_faults(request: web.Request) -> web.Response:
    state_of(request).faults.reset()
    return _ok()


async def sim_denied_paths(request: web.Request) -> web.Response:
    paths = (await _admin_json(request)).get("paths") or []
    state_of(request).denied_paths = {str(p) for p in paths}
    return _ok()


async def sim_workflow_revert(request: web.Request) -> web.Response:
    rules = (await _admin_json(request)).get("rules") or {}
    state_of(request).workflow_revert_status = {int(k): int(v) for k, v in rules.items()}
    return _ok()


async def sim_rotate_key(request: web.Request) -> web.Response:
    state = state_of(request)
    state.rotate_signing_key()
    return web.json_response({"key_id": state.current_key_id, "key_url": state.key_url()})


async def sim_cloud(request: web.Request) -> web.Response:
    state_of(request).cloud = bool((await _admin_json(request)).get("cloud", True))
    return _ok()


async def sim_human(request: web.Request) -> web.Response:
    """A technician changes a ticket in ConnectWise: update, close, merge or move."""
    state = state_of(request)
    ticket_id = path_id(request)
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
        return cw_error(exc.status, exc.code, exc.message)
    except (KeyError, ValueError, TypeError) as exc:
        return cw_error(400, "InvalidObject", f"bad simulator request: {exc}")
    return web.json_response(ticket)


ADMIN_ROUTES = [
    web.get("/_sim/state", sim_state),
    web.post("/_sim/faults", sim_fail_next),
    web.post("/_sim/faults/latency", sim_latency),
    web.post("/_sim/faults/drop-after-note", sim_drop_after_note),
    web.post("/_sim/faults/down", sim_down),
    web.post("/_sim/faults/reset", sim_reset_faults),
    web.post("/_sim/denied-paths", sim_denied_paths),
    web.post("/_sim/workflow-revert", sim_workflow_revert),
    web.post("/_sim/signing-key/rotate", sim_rotate_key),
    web.post("/_sim/cloud", sim_cloud),
    web.post(r"/_sim/tickets/{id:\d+}/{action:update|close|merge|move}", sim_human),
]


def _ok() -> web.Response:
    return web.json_response({"ok": True})


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
