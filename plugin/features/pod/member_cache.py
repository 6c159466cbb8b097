"""In-process memory for pod sign-in: the ConnectWise members verified recently.

Each replica keeps its own: a miss costs one ConnectWise call. (Failed attempts are
counted in the database, `failures.py`, so every replica applies the same limits.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable

from providers.psa import MemberIdentity

VERIFIED_TTL_SECONDS = 300.0


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
