"""The preview cache: (kind, session, state_version) → document. No TTL: a new state is a
new key. An in-process LRU (soft cap) in front of the `note_previews` table, so restarts and
other replicas reuse a preview; concurrent requests for one key share one generation."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plugin.features.notes.models import NotePreview
from plugin.kernel.db import Database

DEFAULT_CAP = 5000
Key = tuple[str, int, int]


@dataclass(frozen=True)
class CachedDocument:
    markdown: str
    generator: str
    persist: bool = True  # False: serve it now, but let the next request try again


@dataclass(frozen=True)
class Lookup:
    document: CachedDocument
    from_cache: bool


class PreviewCache:
    def __init__(self, db: Database, cap: int = DEFAULT_CAP) -> None:
        self.db = db
        self.cap = cap
        self._lru: OrderedDict[Key, CachedDocument] = OrderedDict()
        self._inflight: dict[Key, asyncio.Future[CachedDocument]] = {}

    def __len__(self) -> int:
        return len(self._lru)

    def remember(self, key: Key, document: CachedDocument) -> None:
        self._lru[key] = document
        self._lru.move_to_end(key)
        while len(self._lru) > self.cap:
            self._lru.popitem(last=False)

    async def get_or_make(self, key: Key, make: Callable[[], Awaitable[CachedDocument]]) -> Lookup:
        if (hit := self._lru.get(key)) is not None:
            self._lru.move_to_end(key)
            return Lookup(hit, True)
        if (pending := self._inflight.get(key)) is not None:
            return Lookup(await asyncio.shield(pending), True)
        future: asyncio.Future[CachedDocument] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            stored = await self._load(key)
            if stored is not None:
                self.remember(key, stored)
                future.set_result(stored)
                return Lookup(stored, True)
            document = await make()
            if document.persist:
                document = await self._store(key, document)
                self.remember(key, document)
            future.set_result(document)
            return Lookup(document, False)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        finally:
            del self._inflight[key]

    async def _load(self, key: Key) -> CachedDocument | None:
        kind, session_id, version = key
        async with self.db.read() as db:
            row = (
                await db.execute(
                    select(NotePreview.markdown, NotePreview.generator).where(
                        NotePreview.kind == kind,
                        NotePreview.session_id == session_id,
                        NotePreview.state_version == version,
                    )
                )
            ).first()
        return CachedDocument(row.markdown, row.generator) if row else None

    async def _store(self, key: Key, document: CachedDocument) -> CachedDocument:
        kind, session_id, version = key
        try:
            async with self.db.write() as tx:
                tx.add(
                    NotePreview(
                        kind=kind,
                        session_id=session_id,
                        state_version=version,
                        markdown=document.markdown,
                        generator=document.generator,
                    )
                )
        except IntegrityError:
            # Another replica stored this key first: serve its document so all agree.
            return await self._load(key) or document
        return document


PREVIEW_CACHE = web.AppKey("preview_cache", PreviewCache)
