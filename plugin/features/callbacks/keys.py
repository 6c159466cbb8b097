"""Callback signing keys, cached by (account, key URL).

A cached key that does not match a signature may have been rotated, so it is fetched again
once; a cool-down stops a stream of forged signatures from turning into a stream of key
requests to ConnectWise, and a cap on fetches per account and minute does the same for
forged bodies that each name a new key URL (they would spend the account's API rate limit).
Concurrent misses on one URL share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

KeyFetcher = Callable[[str], Awaitable[str]]
SignatureCheck = Callable[[bytes, str | None, str], bool]  # (raw, signature, key) → valid


class KeyFetchThrottled(Exception):
    """Too many key fetches for this account in the last minute: try again later."""


@dataclass
class _CachedKey:
    key: str
    refetched_at: float | None = None  # when a mismatch last made us fetch it again


class SigningKeyCache:
    def __init__(
        self,
        *,
        max_entries: int = 256,
        refetch_cooldown: float = 10.0,
        max_fetches_per_minute: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[tuple[int, str], _CachedKey] = OrderedDict()
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._max_entries = max_entries
        self._refetch_cooldown = refetch_cooldown
        self._max_fetches = max_fetches_per_minute
        self._fetched: dict[int, deque[float]] = {}
        self._clock = clock

    async def verify(
        self,
        account_id: int,
        key_url: str,
        raw: bytes,
        signature: str,
        fetch: KeyFetcher,
        verify_signature: SignatureCheck,
    ) -> bool:
        """True when `signature` signs `raw` with the key at `key_url`. Fetch errors propagate;
        KeyFetchThrottled when a fetch is needed and the account used up its fetches.

        `key_url` must already be known to be on the account's own PSA hosts."""
        cache_key = (account_id, key_url)
        cached = self._entries.get(cache_key)
        if cached is not None:
            self._entries.move_to_end(cache_key)
            if verify_signature(raw, signature, cached.key):
                return True
        async with self._locks.setdefault(cache_key, asyncio.Lock()):
            current = self._entries.get(cache_key)
            if current is not None and current is not cached:
                # Another request fetched while we waited: use its key, don't fetch again.
                return verify_signature(raw, signature, current.key)
            if current is not None and not self._may_refetch(current):
                return False
            self._count_fetch(account_id)
            key = await fetch(key_url)
            refetched_at = self._clock() if current is not None else None
            self._store(cache_key, _CachedKey(key, refetched_at))
        return verify_signature(raw, signature, key)

    def _may_refetch(self, entry: _CachedKey) -> bool:
        return (
            entry.refetched_at is None
            or self._clock() - entry.refetched_at >= self._refetch_cooldown
        )

    def _count_fetch(self, account_id: int) -> None:
        recent = self._fetched.setdefault(account_id, deque())
        now = self._clock()
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= self._max_fetches:
            raise KeyFetchThrottled()
        recent.append(now)

    def _store(self, cache_key: tuple[int, str], entry: _CachedKey) -> None:
        self._entries[cache_key] = entry
        self._entries.move_to_end(cache_key)
        while len(self._entries) > self._max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._locks.pop(evicted, None)
