"""ConnectWise's closed tickets and their notes (for the history import), and its knowledge
base (`service/knowledgeBaseArticles`: `title`, `issue`, `resolution` are required)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers.psa.base import NoteKind, PSANote, Ticket
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.mapping import note_has_kind, ticket_from_cw

MAX_PAGE_SIZE = 1000
# ConnectWise's article title is short (unconfirmed limit: keep it under 100 characters).
MAX_TITLE_CHARS = 100


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def closed_conditions(since: datetime, board_id: int | None, after_id: int = 0) -> str:
    parts = ["closedFlag=true", f"lastUpdated>=[{_date(since)}]"]
    if board_id is not None:
        parts.append(f"board/id={int(board_id)}")
    if after_id:
        parts.append(f"id>{int(after_id)}")
    return " and ".join(parts)


def note_kind_of(note: dict[str, Any]) -> NoteKind:
    for kind in (NoteKind.RESOLUTION, NoteKind.INTERNAL):
        if note_has_kind(note, kind):
            return kind
    return NoteKind.DISCUSSION


class ConnectWiseHistory:
    def __init__(self, client: ConnectWiseClient, page_size: int = MAX_PAGE_SIZE) -> None:
        self._client = client
        self.page_size = page_size

    async def count_closed(self, since: datetime, board_id: int | None) -> int:
        response = await self._client.request(
            "GET",
            "service/tickets/count",
            params={"conditions": closed_conditions(since, board_id)},
        )
        data = response.data if isinstance(response.data, dict) else {}
        return int(data.get("count") or 0)

    async def closed_tickets(
        self, since: datetime, board_id: int | None, after_id: int
    ) -> list[Ticket]:
        # A keyset on id rather than page numbers: tickets closing meanwhile shift no page,
        # and an interrupted import resumes after the last ticket it stored.
        response = await self._client.request(
            "GET",
            "service/tickets",
            params={
                "conditions": closed_conditions(since, board_id, after_id),
                "orderBy": "id asc",
                "page": 1,
                "pageSize": self.page_size,
            },
        )
        items = response.data if isinstance(response.data, list) else []
        return [ticket_from_cw(item) for item in items if isinstance(item, dict) and "id" in item]

    async def ticket_notes(self, ticket_id: int) -> list[PSANote]:
        notes = await self._client.paginate(f"service/tickets/{int(ticket_id)}/notes")
        return [
            PSANote(
                id=str(note.get("id", "")),
                ticket_id=int(ticket_id),
                text=str(note.get("text") or ""),
                kind=note_kind_of(note),
            )
            for note in notes
            if str(note.get("text") or "").strip()
        ]


class ConnectWiseKnowledgeBase:
    def __init__(self, client: ConnectWiseClient) -> None:
        self._client = client

    async def add_article(self, title: str, issue: str, resolution: str) -> str:
        body = {"title": title[:MAX_TITLE_CHARS], "issue": issue, "resolution": resolution}
        response = await self._client.request(
            "POST", "service/knowledgeBaseArticles", json_body=body
        )
        article = response.data if isinstance(response.data, dict) else {}
        return str(article.get("id", ""))

    async def find_article(self, title: str, issue: str) -> str | None:
        articles = await self._client.paginate(
            "service/knowledgeBaseArticles",
            params={"conditions": f"title={_quoted(title[:MAX_TITLE_CHARS])}"},
        )
        for article in articles:
            if str(article.get("issue") or "").strip() == issue.strip():
                return str(article.get("id"))
        return None
