"""The pod: the page ConnectWise embeds in the Service Ticket screen, the pages it opens
(script library, Script Builder, admin page), their scripts and styles, and member sign-in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from plugin.features.pod.client_address import client_address
from plugin.features.pod.page import (
    ASSET_TYPES,
    asset_path,
    content_security_policy,
    embedding_origin,
    frame_origins,
    render_page,
)
from plugin.features.pod.schemas import (
    AccountQuery,
    PodOrigins,
    PodQuery,
    PodSessionIn,
    PodSessionOut,
)
from plugin.features.pod.signin import POD_SIGN_IN
from plugin.kernel.errors import NotFound
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.preferences import AccountPreferences
from plugin.kernel.psa import has_psa
from plugin.kernel.tenancy import Account, get_account, get_account_by_slug

routes = RouteTable("pod")


def _origins_of(req: Req, account: Account) -> PodOrigins:
    pod = req.psa.for_account(account).pod if has_psa(account) else None
    extra = AccountPreferences.from_stored(account.preferences).extra_pod_origins
    return PodOrigins(from_psa=pod.frame_origins() if pod is not None else [], extra=extra)


async def _page(req: Req, slug: str, embed: str | None, page: str) -> web.Response:
    """The page names (and may be framed by) only the PSA origin that frames it, and only
    when that is one of the account's: to anyone else an account's page, an account
    without a PSA and an unknown account look the same (no existence, no ConnectWise host).
    A page opened on its own needs no origin (it signs in with an API token)."""
    async with req.database.read() as db:
        account = await get_account_by_slug(db, slug)
    origins: list[str] = []
    claimed = embedding_origin(embed, req.request.headers.get("Referer"))
    if account is not None and claimed is not None:
        known = _origins_of(req, account)
        if claimed in frame_origins(known.from_psa, known.extra):
            origins = [claimed]
    return web.Response(
        text=render_page(origins, slug, page),
        content_type="text/html",
        headers={
            "Content-Security-Policy": content_security_policy(origins),
            "Cache-Control": "no-store",
        },
    )


@routes.get(
    "/pod",
    summary="The pod page ConnectWise embeds in the ticket screen (?id=[cw_id]&screen="
    "[cw_screen]&account=slug); framable only by the account's ConnectWise origins",
    auth="public",
    query=PodQuery,
    response="text/html",
    errors=(422,),
)
async def pod_page(req: Req[Any, PodQuery]) -> web.Response:
    return await _page(req, req.query.account, req.query.embed, "pod")


@routes.get(
    "/scripts",
    summary="The script library page: search, track records, drafts to review",
    auth="public",
    query=AccountQuery,
    response="text/html",
    errors=(422,),
)
async def library_page(req: Req[Any, AccountQuery]) -> web.Response:
    return await _page(req, req.query.account, req.query.embed, "library")


@routes.get(
    "/scripts/builder",
    summary="The Script Builder page (?from_session=&fix= from a fix, ?draft= to edit a "
    "draft, or empty)",
    auth="public",
    query=AccountQuery,
    response="text/html",
    errors=(422,),
)
async def builder_page(req: Req[Any, AccountQuery]) -> web.Response:
    return await _page(req, req.query.account, req.query.embed, "builder")


@routes.get(
    "/admin",
    summary="The admin page: statuses per board, auto-open boards, pod origins, API tokens, "
    "the doctor's checks",
    auth="public",
    query=AccountQuery,
    response="text/html",
    errors=(422,),
)
async def admin_page(req: Req[Any, AccountQuery]) -> web.Response:
    return await _page(req, req.query.account, req.query.embed, "admin")


@routes.get(
    "/pod/static/{name}",
    summary="The pages' scripts (ES modules), stylesheet and icon",
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


@routes.get(
    "/favicon.ico",
    summary="The icon (SVG)",
    auth="public",
    response="image/svg+xml",
)
async def favicon(req: Req) -> web.FileResponse:
    path = asset_path("favicon.svg")
    assert path is not None
    return web.FileResponse(
        path, headers={"Content-Type": ASSET_TYPES[".svg"], "Cache-Control": "max-age=86400"}
    )


@routes.get(
    "/api/v1/pod/origins",
    summary="The origins allowed to frame the pod: derived from the account's ConnectWise "
    "URL, and the admin's extra_pod_origins (admin)",
    auth="admin",
    response=PodOrigins,
)
async def pod_origins(req: Req) -> PodOrigins:
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    return _origins_of(req, account)


@routes.post(
    "/api/v1/pod/session",
    summary="Exchange the ConnectWise member authentication from the pod for a short-lived "
    "token (the member is verified with the account's ConnectWise); role admin for a member "
    "listed in admin_members",
    auth="public",
    body=PodSessionIn,
    response=PodSessionOut,
    errors=(401, 403, 404, 409, 429, 502, 503),
)
async def pod_session(req: Req[PodSessionIn, Any]) -> PodSessionOut:
    address = client_address(req.request, req.settings.trusted_proxies)
    return await req.app[POD_SIGN_IN].sign_in(req.body, address)
