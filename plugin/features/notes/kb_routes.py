"""KB articles over HTTP: draft (cached by state) and post (idempotent per state).

Posting stores the article in Fixpilot and, where the account enables it
(`kb_post_to_psa`) and its PSA has a knowledge base, creates it there too. A PSA failure
leaves the article stored with `external_id: null` and the error; posting the same state
again retries the PSA (looking for the article first, so it is never created twice).
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plugin.features.notes.cache import PREVIEW_CACHE
from plugin.features.notes.kb_article import (
    KB_HEADINGS,
    MAX_TITLE_CHARS,
    KBArticle,
    article_title,
    preview_kb_article,
)
from plugin.features.notes.sections import normalise
from plugin.kernel.ai_sessions import get_ai_session
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.redaction import redact_text
from plugin.kernel.tenancy import get_account
from providers.psa import PSAError

log = structlog.get_logger("fixpilot.kb")

routes = RouteTable("kb-articles")
SESSION = "/api/v1/ai-sessions/{session_id}"
# In the PSA: the problem side of the article, and what to do about it.
ISSUE_SECTIONS = ("Symptoms", "Cause")


class KBPreviewOut(BaseModel):
    title: str
    markdown: str
    from_cache: bool
    state_version: int
    generator: str


class KBPostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str | None = Field(
        None, max_length=60_000, description="The edited article; omitted: the current draft"
    )
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS, description="omitted: the ticket")


class KBPostOut(BaseModel):
    article_id: int
    external_id: str | None = Field(description="the article's id in the PSA's knowledge base")
    external_error: str | None = Field(None, description="why the PSA has no copy (yet)")
    state_version: int


@routes.post(
    SESSION + "/kb-article/preview",
    summary="Draft (or fetch the cached draft of) an internal KB article; allowed on a "
    "closed session",
    response=KBPreviewOut,
    errors=(404,),
)
async def preview_kb(req: Req) -> KBPreviewOut:
    session_id = req.path_int("session_id")
    draft = await preview_kb_article(
        req.database, req.llm, req.app[PREVIEW_CACHE], req.account_id, session_id
    )
    async with req.database.read() as db:
        title = article_title(await get_ai_session(db, req.account_id, session_id))
    return KBPreviewOut(title=title, **draft.__dict__)


@routes.post(
    SESSION + "/kb-article/post",
    summary="Store the (edited) KB article, and post it to the PSA's knowledge base where "
    "the account enables it; posting the same state again returns the same article",
    body=KBPostIn,
    response=KBPostOut,
    errors=(404, 422),
)
async def post_kb(req: Req[KBPostIn, Any]) -> KBPostOut:
    session_id = req.path_int("session_id")
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, session_id)
        version, title = ai_session.state_version, article_title(ai_session)
    article = await _stored(req, session_id, version)
    if article is None:
        article = await _store(req, session_id, version, req.body.title or title)
    if article.external_id is None:
        await _post_to_psa(req, article)
    return KBPostOut(
        article_id=article.id,
        external_id=article.external_id,
        external_error=article.external_error,
        state_version=version,
    )


async def _stored(req: Req, session_id: int, version: int) -> KBArticle | None:
    async with req.database.read() as db:
        return (
            await db.execute(
                select(KBArticle).where(
                    KBArticle.session_id == session_id, KBArticle.state_version == version
                )
            )
        ).scalar_one_or_none()


async def _store(req: Req[KBPostIn, Any], session_id: int, version: int, title: str) -> KBArticle:
    markdown = req.body.markdown
    if markdown is None:
        draft = await preview_kb_article(
            req.database, req.llm, req.app[PREVIEW_CACHE], req.account_id, session_id
        )
        markdown = draft.markdown
    markdown = normalise(redact_text(markdown), KB_HEADINGS).strip()
    if not markdown:
        raise Unprocessable(
            "The article is empty.", details={"fields": {"markdown": "must not be blank"}}
        )
    article = KBArticle(
        account_id=req.account_id,
        session_id=session_id,
        state_version=version,
        title=redact_text(title.strip())[:MAX_TITLE_CHARS] or f"Session {session_id}",
        markdown=markdown,
        created_by=req.caller.actor,
    )
    try:
        async with req.database.write() as tx:
            tx.add(article)
    except IntegrityError:
        # A concurrent post of the same state stored it first: that one is the article.
        stored = await _stored(req, session_id, version)
        assert stored is not None
        return stored
    return article


async def _post_to_psa(req: Req, article: KBArticle) -> None:
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    knowledge_base = req.psa.for_account(account).knowledge_base
    if not account.prefs.kb_post_to_psa or knowledge_base is None:
        return
    issue, resolution = split_for_psa(article.markdown)
    try:
        external_id = None
        if article.external_error is not None:  # an earlier attempt may have landed
            external_id = await knowledge_base.find_article(article.title, issue)
        external_id = external_id or await knowledge_base.add_article(
            article.title, issue, resolution
        )
        values = {"external_id": external_id, "external_error": None}
    except PSAError as exc:
        log.warning("kb_post_failed", article_id=article.id, error=exc.message)
        values = {"external_error": exc.message}
    async with req.database.write() as tx:
        stored = await tx.get(KBArticle, article.id, with_for_update=True)
        if stored.external_id is None:
            for key, value in {**values, "updated_at": utcnow()}.items():
                setattr(stored, key, value)
        article.external_id, article.external_error = stored.external_id, stored.external_error


def split_for_psa(markdown: str) -> tuple[str, str]:
    """(issue, resolution): the symptoms and cause, then the rest of the article."""
    sections = re.split(r"(?m)^(?=## )", markdown)
    issue = [s for s in sections if s[3:].split("\n", 1)[0].strip() in ISSUE_SECTIONS]
    rest = [s for s in sections if s.strip() and s not in issue]
    return "".join(issue).strip(), "".join(rest).strip()
