"""REST handlers for ConnectWise's knowledge base: `service/knowledgeBaseArticles`.

An article needs `title`, `issue` and `resolution` (pyconnectwise's KnowledgeBaseArticle
model marks them required); `categoryId`, `subCategoryId`, `board`, `locationId` and
`businessUnitId` are optional.
"""

from __future__ import annotations

from aiohttp import web

from providers.psa.simulator.context import actor_of, path_id, read_json, state_of
from providers.psa.simulator.listing import count_response, list_response
from providers.psa.simulator.records import SimError, invalid_object, now

REQUIRED = ("title", "issue", "resolution")
OPTIONAL = ("categoryId", "subCategoryId", "board", "locationId", "businessUnitId")


async def list_articles(request: web.Request) -> web.Response:
    return list_response(request, _articles(request))


async def count_articles(request: web.Request) -> web.Response:
    return count_response(request, _articles(request))


async def get_article(request: web.Request) -> web.Response:
    article = state_of(request).kb_articles.get(path_id(request))
    if article is None:
        raise SimError(404, "NotFound", f"KnowledgeBaseArticle ID {path_id(request)} not found")
    return web.json_response(article)


async def post_article(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise SimError(400, "InvalidObject", "The request body must be an object")
    for name in REQUIRED:
        if not str(body.get(name) or "").strip():
            raise invalid_object("knowledgeBaseArticle", "NullValue", name, f"{name} is required")
    stamp, actor = now(), state.actor_ref(actor_of(request))
    article = {
        "id": state.new_id(),
        **{name: str(body[name]) for name in REQUIRED},
        **{name: body.get(name) for name in OPTIONAL},
        "dateCreated": stamp,
        "createdBy": actor,
        "_info": {"lastUpdated": stamp, "updatedBy": actor},
    }
    state.kb_articles[article["id"]] = article
    return web.json_response(article, status=201)


def _articles(request: web.Request) -> list[dict]:
    return [a for _, a in sorted(state_of(request).kb_articles.items())]


KNOWLEDGE_ROUTES = [
    ("GET", "service/knowledgeBaseArticles", list_articles),
    ("GET", "service/knowledgeBaseArticles/count", count_articles),
    ("GET", "service/knowledgeBaseArticles/{id}", get_article),
    ("POST", "service/knowledgeBaseArticles", post_article),
]
