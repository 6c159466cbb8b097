"""The pod: the page ConnectWise embeds in the Service Ticket screen, its scripts and
styles, and its member sign-in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from plugin.features.pod.page import ASSET_TYPES, asset_path, content_security_policy, render_page
from plugin.features.pod.schemas import PodQuery, PodSessionIn, PodSessionOut
from plugin.features.pod.signin import POD_SIGN_IN
from plugin.kernel.errors import NotFound
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.psa import has_psa
from plugin.kernel.tenancy import get_account_by_slug

routes = RouteTable("pod")


@routes.get(
    "/pod",
    summary="The pod page ConnectWise embeds in the ticket screen (?id=[cw_id]&screen="
    "[cw_screen]&account=slug); framable only by the account's ConnectWise origins",
    auth="public",
    query=PodQuery,
    response="text/html",
    errors=(404, 422),
)
async def pod_page(req: Req[Any, PodQuery]) -> web.Response:
    async with req.database.read() as db:
        account = await get_account_by_slug(db, req.query.account)
    if account is None:
        raise NotFound(f"There is no account '{req.query.account}'.", code="account_not_found")
    pod = req.psa.for_account(account).pod if has_psa(account) else None
    origins = pod.frame_origins() if pod is not None else []
    return web.Response(
        text=render_page(origins, account.slug),
        content_type="text/html",
        headers={
            "Content-Security-Policy": content_security_policy(origins),
            "Cache-Control": "no-store",
        },
    )


@routes.get(
    "/pod/static/{name}",
    summary="The pod's script and stylesheet",
    auth="public",
    response="application/octet-stream",
    errors=(404,),
)
async def pod_asset(req: Req) -> web.FileResponse:
    path = asset_path(req.request.match_info["name"])
    if path is None:
        raise NotFound("No such pod file.", code="not_found")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": ASSET_TYPES[path.suffix],
            "Cache-Control": "no-cache",
        },
    )


@routes.post(
    "/api/v1/pod/session",
    summary="Exchange the ConnectWise member authentication from the pod for a short-lived "
    "engineer token (the member is verified with the account's ConnectWise)",
    auth="public",
    body=PodSessionIn,
    response=PodSessionOut,
    errors=(401, 404, 409, 429, 502, 503),
)
async def pod_session(req: Req[PodSessionIn, Any]) -> PodSessionOut:
    return await req.app[POD_SIGN_IN].sign_in(req.body, req.request.remote or "unknown")
