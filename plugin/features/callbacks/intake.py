"""Callback intake: verify, dedupe, store, answer fast.

ConnectWise waits about 5 s, retries only 404/409/419/429 and never a 5xx (CONNECTWISE.md),
so every answer here is chosen for what ConnectWise will do with it: 2xx once the event is
safely stored (or is a duplicate, or of a type we don't handle), 429 when it can't be stored
right now, 401 for anything unauthentic, 400 for a body that isn't a callback. Processing
happens later, in the callback worker.

The path of a genuine callback does only what deciding its answer needs: the account and
its callback source from a short in-memory cache, an HMAC with a cached key, and a place in
the intake writer's next group commit (writer.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from plugin.features.callbacks.keys import KeyFetcher, KeyUnavailable, SigningKeyCache
from plugin.features.callbacks.writer import IntakeWriter, StoreTooSlow
from plugin.features.callbacks.writer import store_event as store_event  # re-exported
from plugin.kernel.db import Database
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections, has_psa
from plugin.kernel.tenancy import Account, get_account_by_slug
from providers.psa import (
    CallbackEnvelope,
    CallbackParseError,
    CallbackSource,
    PSAError,
    PSARateLimited,
    PSAUnavailable,
)

log = structlog.get_logger("fixpilot.callbacks.intake")

HANDLED_TYPES = frozenset({"ticket"})
HANDLED_ACTIONS = frozenset({"added", "updated", "deleted"})
# Both well inside ConnectWise's 5 s: past them we answer 429 and let it retry.
KEY_FETCH_SECONDS = 3.0
STORE_SECONDS = 2.0
ACCOUNT_TTL_SECONDS = 5.0
MAX_KNOWN_ACCOUNTS = 1024
_STORE_ERRORS = (DBAPIError, PoolTimeout, OSError)


@dataclass(frozen=True)
class IntakeResult:
    """What to answer. `status` 401 and 429 carry no detail on purpose."""

    status: int
    outcome: str  # accepted | duplicate | ignored | unauthorized | malformed | retry_later
    event_id: int | None = None
    message: str = ""


def unhandled_reason(envelope: CallbackEnvelope) -> str | None:
    """Why an authentic callback is acknowledged and dropped, or None to store it.

    Acknowledged rather than refused: ConnectWise disables a callback after days of failed
    deliveries, and a body it signed is not going to change on a retry."""
    if envelope.type not in HANDLED_TYPES:
        return f"type {envelope.type!r} not handled"
    if envelope.action not in HANDLED_ACTIONS:
        return f"action {envelope.action!r} not handled"
    if envelope.record_id is None:
        return "no record ID"
    return None


_ENVELOPE_FIELDS = fields(CallbackEnvelope)


def event_values(
    account_id: int, envelope: CallbackEnvelope, raw: bytes, source: CallbackSource
) -> dict[str, Any]:
    """The stored row: the parsed envelope (Entity already decoded) and its dedupe key."""
    return {
        "account_id": account_id,
        "dedupe_key": source.dedupe_key(envelope, raw)[:128],
        "record_id": envelope.record_id,
        "event_type": envelope.type[:32],
        "action": envelope.action[:32],
        # Shallow: the entity was parsed from this request's body and is nobody else's, so
        # asdict's deep copy of it would be pure cost on the hot path.
        "payload": {f.name: getattr(envelope, f.name) for f in _ENVELOPE_FIELDS},
    }


@dataclass(frozen=True)
class _Known:
    """An account as intake needs it: its row and its callback source (None: no PSA)."""

    expires: float
    account: Account | None
    source: CallbackSource | None


@dataclass
class CallbackIntake:
    database: Database
    psa: PSAConnections
    keys: SigningKeyCache = field(default_factory=SigningKeyCache)
    writer: IntakeWriter | None = None
    # Set when an event is stored, so this process's worker picks it up at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Account lookups are cached this long: a disconnected or deleted account stops
    # being served within these seconds, on every replica.
    account_ttl: float = ACCOUNT_TTL_SECONDS
    metrics: Metrics | None = None
    _known: dict[str, _Known] = field(default_factory=dict)
    _loading: dict[str, asyncio.Future] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = IntakeWriter(self.database, deadline=STORE_SECONDS)

    def _counted(self, fetch: KeyFetcher) -> KeyFetcher:
        """`fetch`, counted in fixpilot_signing_key_fetches_total by result."""
        metrics = self.metrics
        if metrics is None:
            return fetch

        async def counted(key_url: str) -> str:
            try:
                key = await fetch(key_url)
            except BaseException:
                metrics.signing_key_fetches.labels("error").inc()
                raise
            metrics.signing_key_fetches.labels("ok").inc()
            return key

        return counted

    def quiet_for(self) -> float:
        """Seconds since a callback last came to be stored (a worker sharing the process
        steps aside until intake has been quiet for a moment)."""
        return self.writer.quiet_for()

    async def receive(
        self, account_slug: str, raw: bytes, headers: Mapping[str, str]
    ) -> IntakeResult:
        if not _plausible_slug(account_slug):
            # No account can have this slug (defect D7: a NUL reached the database).
            return IntakeResult(404, "not_found", message="No such ConnectWise account.")
        try:
            known = await self._account(account_slug)
        except _STORE_ERRORS:
            log.warning("callback_account_lookup_failed", account=account_slug, exc_info=True)
            return IntakeResult(429, "retry_later")
        if known.account is None or known.source is None:
            return IntakeResult(
                404, "not_found", message=f"No ConnectWise account {account_slug!r}."
            )
        account, source = known.account, known.source
        signature = headers.get(source.signature_header)
        verified = await self._verified_envelope(account, source, raw, signature)
        if isinstance(verified, IntakeResult):
            return verified
        return await self._store(account, source, verified, raw)

    async def _account(self, slug: str) -> _Known:
        known = self._known.get(slug)
        if known is not None and known.expires > time.monotonic():
            return known
        # One lookup per slug at a time: the requests that find the entry expired together
        # share it instead of each reading the database.
        loading = self._loading.get(slug)
        if loading is None:
            loading = asyncio.ensure_future(self._look_up(slug))
            self._loading[slug] = loading
            loading.add_done_callback(lambda _: self._loading.pop(slug, None))
        return await asyncio.shield(loading)

    async def _look_up(self, slug: str) -> _Known:
        async with self.database.read() as db:
            account = await get_account_by_slug(db, slug)
        source = None
        if account is not None and has_psa(account):
            source = self.psa.for_account(account).callbacks
        now = time.monotonic()
        if len(self._known) >= MAX_KNOWN_ACCOUNTS:
            self._known = {k: v for k, v in self._known.items() if v.expires > now}
            if len(self._known) >= MAX_KNOWN_ACCOUNTS:
                self._known.clear()  # a flood of made-up slugs: start over, stay bounded
        known = _Known(now + self.account_ttl, account, source)
        self._known[slug] = known
        return known

    async def _verified_envelope(
        self, account: Account, source: CallbackSource, raw: bytes, signature: str | None
    ) -> CallbackEnvelope | IntakeResult:
        """The parsed callback if its PSA signed it, else the answer to give."""
        if not signature or not source.signature_well_formed(signature):
            log.warning("callback_rejected", account=account.slug, reason="no usable signature")
            return IntakeResult(401, "unauthorized")
        try:
            envelope = source.parse(raw)
        except CallbackParseError as exc:
            log.warning("callback_malformed", account=account.slug, reason=exc.message)
            return IntakeResult(
                400, "malformed", message=f"Not a ConnectWise callback: {exc.message}."
            )
        if not source.key_url_allowed(envelope.key_url):
            # Never fetched: a forged body could point at a key its author controls.
            log.warning("callback_rejected", account=account.slug, reason="key_url not on the host")
            return IntakeResult(401, "unauthorized")
        if self.keys.verified_by_cached_key(
            account.id, envelope.key_url, raw, signature, source.verify_signature
        ):
            return envelope
        try:
            async with asyncio.timeout(KEY_FETCH_SECONDS):
                authentic = await self.keys.verify(
                    account.id,
                    envelope.key_url,
                    raw,
                    signature,
                    self._counted(source.get_signing_key),
                    source.verify_signature,
                )
        except (PSAUnavailable, PSARateLimited, KeyUnavailable, TimeoutError):
            log.warning("callback_key_unavailable", account=account.slug)
            return IntakeResult(429, "retry_later")
        except PSAError as exc:
            log.warning(
                "callback_rejected",
                account=account.slug,
                reason=f"signing key not fetched: {exc.message}",
            )
            return IntakeResult(401, "unauthorized")
        if not authentic:
            log.warning("callback_rejected", account=account.slug, reason="signature mismatch")
            return IntakeResult(401, "unauthorized")
        return envelope

    async def _store(
        self, account: Account, source: CallbackSource, envelope: CallbackEnvelope, raw: bytes
    ) -> IntakeResult:
        reason = unhandled_reason(envelope)
        if reason is not None:
            log.info("callback_ignored", account=account.slug, reason=reason)
            return IntakeResult(200, "ignored")
        values = event_values(account.id, envelope, raw, source)
        try:
            event_id = await self.writer.submit(values)
        except StoreTooSlow:
            # The store still lands (or fails) in its batch: if it lands, ConnectWise's retry
            # of our 429 is a harmless duplicate.
            log.warning("callback_not_stored", account=account.slug, reason="store too slow")
            return IntakeResult(429, "retry_later")
        except Exception:  # the batch failed: logged once for all of it by the writer
            return IntakeResult(429, "retry_later")
        # A duplicate wakes the worker too: after a dropped connection the batch that stored
        # this very callback may have answered it as one.
        self.wake.set()
        if event_id is None:
            return IntakeResult(200, "duplicate")
        return IntakeResult(202, "accepted", event_id=event_id)

    async def aclose(self) -> None:
        """At shutdown: let waiting stores land before the database closes."""
        await self.writer.aclose()


def _plausible_slug(slug: str) -> bool:
    return 0 < len(slug) <= 64 and slug.isprintable()


CALLBACK_INTAKE = web.AppKey("callback_intake", CallbackIntake)
