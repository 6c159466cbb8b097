"""REST handlers for ConnectWise's system module (callbacks, the caller's member info, hosted
API setups and screens) and the site-level pages outside the API: companyinfo and the
callback signing-key URL."""

from __future__ import annotations

from aiohttp import web

from providers.psa.simulator.context import (
    actor_of,
    cw_error,
    path_id,
    read_json,
    state_of,
)
from providers.psa.simulator.listing import list_response
from providers.psa.simulator.records import (
    CALLBACK_KEY_PATH,
    HOSTED_SCREENS,
    LEGACY_SIGNING_KEY_PATH,
    SimError,
)

# companyinfo's build number; made up, in ConnectWise's "v4.6.NNNNN" form.
VERSION_NUMBER = "v4.6.97152"

# --- callbacks ---------------------------------------------------------------------------


async def list_callbacks(request: web.Request) -> web.Response:
    callbacks = state_of(request).callbacks
    return list_response(request, [cb for _, cb in sorted(callbacks.items())])


async def post_callback(request: web.Request) -> web.Response:
    callback = state_of(request).add_callback(await read_json(request))
    return web.json_response(callback, status=201)


async def get_callback(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).callback(path_id(request)))


async def patch_callback(request: web.Request) -> web.Response:
    callback = state_of(request).callback(path_id(request))
    ops = await read_json(request)
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
    callback = state_of(request).callback(path_id(request))
    body = await read_json(request)
    if not isinstance(body, dict):
        raise SimError(400, "InvalidObject", "A callback object is required")
    callback.update({k: v for k, v in body.items() if k not in ("id", "_info")})
    return web.json_response(callback)


async def delete_callback(request: web.Request) -> web.Response:
    state = state_of(request)
    state.callback(path_id(request))
    del state.callbacks[path_id(request)]
    return web.Response(status=204)


async def get_legacy_signing_key(request: web.Request) -> web.Response:
    """The simulator's first key URL, `…/apis/3.0/system/callbacks/signingkey?keyId=N`."""
    state = state_of(request)
    key_id = request.query.get("keyId")
    if key_id is None:
        return web.json_response({"signing_key": state.signing_key})
    key = state.signing_keys.get(int(key_id)) if key_id.isdigit() else None
    if key is None:
        raise SimError(404, "NotFound", "Signing key not found")
    return web.json_response({"signing_key": key})


# --- members, hosted API ------------------------------------------------------------------


async def my_member_info(request: web.Request) -> web.Response:
    """The caller's MyMemberInfo, whether the API member or a member signed in by hash."""
    member = state_of(request).member(actor_of(request))
    if member is None:
        return web.json_response({"identifier": actor_of(request)})
    return web.json_response(member.my_member_info())


async def list_hosted_screens(request: web.Request) -> web.Response:
    return list_response(request, [dict(screen) for screen in HOSTED_SCREENS])


async def list_hosted_setups(request: web.Request) -> web.Response:
    setups = state_of(request).hosted_setups
    return list_response(request, [s for _, s in sorted(setups.items())])


async def post_hosted_setup(request: web.Request) -> web.Response:
    setup = state_of(request).add_hosted_setup(await read_json(request))
    return web.json_response(setup, status=201)


# (method, path template, handler); paths are matched case-insensitively.
SYSTEM_ROUTES = [
    ("GET", "system/callbacks", list_callbacks),
    ("POST", "system/callbacks", post_callback),
    ("GET", LEGACY_SIGNING_KEY_PATH, get_legacy_signing_key),
    ("GET", "system/callbacks/{id}", get_callback),
    ("PATCH", "system/callbacks/{id}", patch_callback),
    ("PUT", "system/callbacks/{id}", put_callback),
    ("DELETE", "system/callbacks/{id}", delete_callback),
    ("GET", "system/myMembers/info", my_member_info),
    ("GET", "system/connectWiseHostedScreens", list_hosted_screens),
    ("GET", "system/connectWiseHostedSetups", list_hosted_setups),
    ("POST", "system/connectWiseHostedSetups", post_hosted_setup),
]


# --- site pages outside /apis/3.0 (no API authentication) ---------------------------------


async def company_info(request: web.Request) -> web.Response:
    """`GET /login/companyinfo/{companyId}`: the site's codebase; Cloud names a versioned
    one while API URLs keep working under the classic codebase."""
    state = state_of(request)
    if request.match_info["company"].lower() != state.company_id.lower():
        return cw_error(404, "NotFound", "Company not found")
    return web.json_response(
        {
            "CompanyName": "Fixpilot Demo MSP",
            "Codebase": f"{state.codebase}/",
            "VersionCode": "v2025.1",
            "VersionNumber": VERSION_NUMBER,
            "CompanyID": state.company_id,
            "IsCloud": state.cloud,
            "SiteUrl": state.site_host or request.host,
        }
    )


async def callback_signing_key(request: web.Request) -> web.Response:
    """`GET /{codebase}/system/callbackkey/index.rails?companyName=…&id=<guid>`."""
    state = state_of(request)
    company = request.query.get("companyName", "")
    key_id = state.key_id_for_guid(request.query.get("id", ""))
    if (
        request.match_info["codebase"] not in state.served_codebases
        or company.lower() != state.company_id.lower()
        or key_id is None
        or key_id not in state.signing_keys
    ):
        return cw_error(404, "NotFound", "Signing key not found")
    return web.json_response({"signing_key": state.signing_keys[key_id]})


SITE_ROUTES = [
    web.get("/login/companyinfo/{company}", company_info),
    # The same path placeholder name as the API route, so the request log records it.
    web.get(
        "/{codebase}/{cw_path:(?i:" + CALLBACK_KEY_PATH.replace(".", r"\.") + ")}",
        callback_signing_key,
    ),
]
