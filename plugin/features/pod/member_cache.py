"""In-process memory for pod sign-in: ConnectWise members verified recently, and failed
attempts per member and per address.

Both live in one process (each replica keeps its own): a cache miss costs one ConnectWise
call, and the failure limit is a brake on guessing, not an accounting system.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from providers.psa import MemberIdentity

VERIFIED_TTL_SECONDS = 300.0
FAILURE_WINDOW_SECONDS = 300.0


def member_key(secret: str, *parts: str) -> str:
    """A keyed digest of the sign-in (account connection, member, hash): the raw member
    hash is never kept, and the digest is useless without the instance secret."""
    message = "\x00".join(parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class VerifiedMembers:
    """Members ConnectWise confirmed in the last few minutes, by `member_key`."""

    def __init__(
        self,
        ttl_seconds: float = VERIFIED_TTL_SECONDS,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, MemberIdentity]] = OrderedDict()

    def get(self, key: str) -> MemberIdentity | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, identity = entry
        if expires <= self.clock():
            del self._entries[key]
            return None
        return identity

    def put(self, key: str, identity: MemberIdentity) -> None:
        self._entries[key] = (self.clock() + self.ttl, identity)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class FailedAttempts:
    """A sliding window of failed sign-ins per key (a member of an account, an address)."""

    def __init__(
        self,
        window_seconds: float = FAILURE_WINDOW_SECONDS,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, limit: int) -> float | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        failures = self._recent(key)
        if len(failures) < limit:
            return None
        return max(1.0, failures[len(failures) - limit] + self.window - self.clock())

    def record(self, key: str) -> None:
        self._recent(key).append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
