"""Callback signing keys, cached by (account, key URL), with fetches limited per key URL.

A verified key is reused for as long as signatures keep matching. A signature that does not
match a cached key may mean the key was rotated, so that URL is fetched again, but at most
once per `refetch_interval`; a URL whose key could not be fetched (no such key) is not asked
again within the interval either. Every limit is per key URL, never per account: forged
bodies, whatever URLs they name, can only spend their own URLs' fetches, so they can never
make a genuine callback wait for a budget they used up (defect D1). Intake only gets here
after a cheap structural check of the signature (`CallbackSource.signature_well_formed`), so
junk headers cost no fetch at all. Concurrent misses on one URL share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from providers.psa import PSARateLimited, PSAUnavailable

KeyFetcher = Callable[[str], Awaitable[str]]
SignatureCheck = Callable[[bytes, str | None, str], bool]  # (raw, signature, key) → valid
CacheKey = tuple[int, str]  # (account id, key URL)


class KeyUnavailable(Exception):
    """The key fetch this request waited for failed for a passing reason: retry later."""


@dataclass
class _UrlState:
    key: str | None = None  # the last key fetched from this URL
    refetched_at: float | None = None  # when a signature miss last made us ask again
    failed_at: float | None = None  # when the last ask answered there is no key there
    version: int = 0  # asks completed, so a request that waited sees another's answer


class SigningKeyCache:
    def __init__(
        self,
        *,
        max_entries: int = 1024,
        refetch_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[CacheKey, _UrlState] = OrderedDict()
        self._locks: dict[CacheKey, asyncio.Lock] = {}
        self._max_entries = max_entries
        self._interval = refetch_interval
        self._clock = clock
        self.fetches = 0  # how many keys were asked of the PSA (for tests and metrics)

    def verified_by_cached_key(
        self,
        account_id: int,
        key_url: str,
        raw: bytes,
        signature: str,
        verify_signature: SignatureCheck,
    ) -> bool:
        """True when the key last fetched from `key_url` signs `raw`: no fetch, no wait (the
        path of nearly every genuine callback). False says nothing: ask `verify`."""
        cache_key = (account_id, key_url)
        seen = self._entries.get(cache_key)
        if seen is None or seen.key is None or not verify_signature(raw, signature, seen.key):
            return False
        self._entries.move_to_end(cache_key)
        return True

    async def verify(
        self,
        account_id: int,
        key_url: str,
        raw: bytes,
        signature: str,
        fetch: KeyFetcher,
        verify_signature: SignatureCheck,
    ) -> bool:
        """True when `signature` signs `raw` with the key at `key_url`. Transient fetch errors
        propagate (the caller answers 429); a fetch that failed otherwise propagates once and
        then answers False until the interval has passed.

        `key_url` must already be known to be on the account's own PSA hosts."""
        cache_key = (account_id, key_url)
        seen = self._entries.get(cache_key)
        seen_version = seen.version if seen is not None else 0
        if seen is not None:
            self._entries.move_to_end(cache_key)
            if seen.key is not None and verify_signature(raw, signature, seen.key):
                return True
            if not self._may_fetch(seen):
                return False
        async with self._locks.setdefault(cache_key, asyncio.Lock()):
            state = self._entries.get(cache_key)
            if state is not None and state.version != seen_version:
                # Another request asked while we waited: use its answer.
                if state.key is None and state.failed_at is None:
                    raise KeyUnavailable()
                return state.key is not None and verify_signature(raw, signature, state.key)
            if state is not None and not self._may_fetch(state):
                return False
            state = state or self._store(cache_key, _UrlState())
            had_key = state.key is not None
            try:
                self.fetches += 1
                key = await fetch(key_url)
            except Exception as exc:
                state.version += 1
                if not _transient(exc):
                    state.failed_at = self._clock()
                    if had_key:
                        state.refetched_at = state.failed_at
                raise
            state.version += 1
            state.key, state.failed_at = key, None
            if had_key:
                state.refetched_at = self._clock()
        return verify_signature(raw, signature, key)

    def _may_fetch(self, state: _UrlState) -> bool:
        now = self._clock()
        if state.key is None:
            return state.failed_at is None or now - state.failed_at >= self._interval
        return state.refetched_at is None or now - state.refetched_at >= self._interval

    def _store(self, cache_key: CacheKey, state: _UrlState) -> _UrlState:
        self._entries[cache_key] = state
        while len(self._entries) > self._max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._locks.pop(evicted, None)
        return state


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, PSAUnavailable | PSARateLimited | TimeoutError | asyncio.TimeoutError)
