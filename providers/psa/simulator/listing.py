"""Lists the way ConnectWise answers them: `conditions` filtering, `page`/`pageSize`
pagination with a `Link` header, and `…/count`.

The `Link` header carries `first`, `prev`, `next` and `last` and writes each URL's query as
`…&pageSize=N&page=M`, page last: clients such as pyconnectwise read the page number with a
pattern anchored on `page=(\\d+)>` and stop after one page when it is written otherwise.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from providers.psa.simulator.conditions import parse_conditions
from providers.psa.simulator.records import SimError

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


def query_param(request: web.Request, name: str) -> str | None:
    """A query parameter by name, case-insensitively (ConnectWise ignores the case)."""
    return next((v for k, v in request.query.items() if k.lower() == name.lower()), None)


def filtered(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conditions = query_param(request, "conditions")
    if not conditions or not conditions.strip():
        return items
    matches = parse_conditions(conditions)
    return [item for item in items if matches(item)]


def list_response(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """One page of the items that match `conditions`, with a `Link` header when there is
    more than one page."""
    items = filtered(request, items)
    page, size = _page_and_size(request)
    last = max(1, -(-len(items) // size))
    response = web.json_response(items[(page - 1) * size : page * size])
    link = link_header(request, page, size, last)
    if link:
        response.headers["Link"] = link
    return response


def count_response(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"count": len(filtered(request, items))})


def link_header(request: web.Request, page: int, size: int, last: int) -> str | None:
    kept = [(k, v) for k, v in request.query.items() if k.lower() not in ("page", "pagesize")]

    def link(number: int, rel: str) -> str:
        url = request.url.with_query([*kept, ("pageSize", str(size)), ("page", str(number))])
        return f'<{url}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    return ", ".join(links) or None


def _page_and_size(request: web.Request) -> tuple[int, int]:
    try:
        page = max(1, int(query_param(request, "page") or 1))
        size = int(query_param(request, "pageSize") or DEFAULT_PAGE_SIZE)
    except ValueError as exc:
        raise SimError(400, "InvalidObject", "page and pageSize must be integers") from exc
    return page, min(MAX_PAGE_SIZE, max(1, size))
