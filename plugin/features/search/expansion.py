"""Query expansion: where an LLM is configured, one cheap call turns a session's words into
the technical terms its past tickets were written in ("emails sit in the outbox" → "OST
send receive outbox sync"). Cached by (session, state_version) like the previews, so a
state is expanded once across requests, restarts and replicas."""

from __future__ import annotations

import re

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plugin.features.search.models import QueryExpansion
from plugin.kernel.db import Database
from plugin.kernel.llm import CallScope, call_scope
from providers.llm import LLMProvider
from providers.llm.base import LLMError, LLMRequest

log = structlog.get_logger("fixpilot.search")

KIND = "similar_query"
OFFLINE = "offline"  # the offline provider has no model to expand with
MAX_TOKENS = 80
MAX_TERMS_CHARS = 300
EXPANSION_SYSTEM_PROMPT = (
    "You help search an MSP service desk's resolved tickets. Given a new ticket as the user "
    "or dispatcher wrote it, answer with one line of 5 to 15 search terms in the words "
    "engineers use in their notes: the product or component, the technical name of the "
    "symptom, error codes, likely causes. Terms only, separated by spaces: no sentences, "
    "no numbering, no explanation."
)
_TERM_CHARS = re.compile(r"[^\w\s./+#-]+")


def expansion_request(query: str) -> LLMRequest:
    return LLMRequest(
        kind=KIND,
        system=EXPANSION_SYSTEM_PROMPT,
        messages=[{"role": "user", "content": query}],
        max_tokens=MAX_TOKENS,
    )


def clean_terms(answer: str) -> str:
    """The first line of the answer, as plain terms (the model sometimes adds punctuation)."""
    first = next((line for line in answer.splitlines() if line.strip()), "")
    return " ".join(_TERM_CHARS.sub(" ", first).split())[:MAX_TERMS_CHARS]


async def expand_query(
    database: Database,
    llm: LLMProvider,
    account_id: int,
    session_id: int,
    state_version: int,
    query: str,
) -> str:
    """The expansion of this state's query ('' without an LLM or when the call fails: the
    search works without it). `query` is already redacted."""
    if llm.name == OFFLINE or not query.strip():
        return ""
    async with database.read() as db:
        stored = (
            await db.execute(
                select(QueryExpansion.terms).where(
                    QueryExpansion.session_id == session_id,
                    QueryExpansion.state_version == state_version,
                )
            )
        ).scalar_one_or_none()
    if stored is not None:
        return stored
    token = call_scope.set(CallScope(account_id, session_id))
    try:
        result = await llm.generate(expansion_request(query))
    except LLMError as exc:
        log.warning("similar_query_expansion_failed", error=type(exc).__name__)
        return ""
    finally:
        call_scope.reset(token)
    terms = clean_terms(result.text)
    try:
        async with database.write() as tx:
            tx.add(
                QueryExpansion(
                    session_id=session_id,
                    state_version=state_version,
                    terms=terms,
                    generator=result.generator,
                )
            )
    except IntegrityError:
        pass  # another request stored this state's expansion first; ours is as good
    return terms
