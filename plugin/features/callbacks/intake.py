"""Callback intake: verify, dedupe, store, answer fast.

ConnectWise waits about 5 s, retries only 404/409/419/429 and never a 5xx (CONNECTWISE.md),
so every answer here is chosen for what ConnectWise will do with it: 2xx once the event is
safely stored (or is a duplicate, or of a type we don't handle), 429 when it can't be stored
right now, 401 for anything unauthentic, 400 for a body that isn't a callback. Processing
happens later, in the callback worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from plugin.features.callbacks.keys import KeyFetchThrottled, SigningKeyCache
from plugin.features.callbacks.models import PSACallbackEvent
from plugin.kernel.db import Database
from plugin.kernel.psa import PSAConnections, has_psa
from plugin.kernel.states import CallbackEventStatus
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
        "payload": asdict(envelope),
    }


async def store_event(database: Database, values: dict[str, Any]) -> int | None:
    """Insert-or-ignore on (account, dedupe key): the new id, or None for a duplicate."""
    stmt = (
        database.insert(PSACallbackEvent)
        .values(status=CallbackEventStatus.PENDING, attempts=0, **values)
        .on_conflict_do_nothing(index_elements=["account_id", "dedupe_key"])
        .returning(PSACallbackEvent.id)
    )
    async with database.write() as tx:
        return (await tx.execute(stmt)).scalar_one_or_none()


@dataclass
class CallbackIntake:
    database: Database
    psa: PSAConnections
    keys: SigningKeyCache = field(default_factory=SigningKeyCache)
    # Set when an event is stored, so this process's worker picks it up at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Stores that outlived their request (answered 429); awaited before shutdown.
    late_stores: set[asyncio.Task] = field(default_factory=set)

    async def receive(
        self, account_slug: str, raw: bytes, headers: Mapping[str, str]
    ) -> IntakeResult:
        try:
            account = await self._account(account_slug)
        except _STORE_ERRORS:
            log.warning("callback_account_lookup_failed", account=account_slug, exc_info=True)
            return IntakeResult(429, "retry_later")
        source = self.psa.for_account(account).callbacks if account is not None else None
        if account is None or source is None:
            return IntakeResult(
                404, "not_found", message=f"No ConnectWise account {account_slug!r}."
            )
        signature = headers.get(source.signature_header)
        verified = await self._verified_envelope(account, source, raw, signature)
        if isinstance(verified, IntakeResult):
            return verified
        return await self._store(account, source, verified, raw)

    async def _account(self, slug: str) -> Account | None:
        async with self.database.read() as db:
            account = await get_account_by_slug(db, slug)
        return account if account is not None and has_psa(account) else None

    async def _verified_envelope(
        self, account: Account, source: CallbackSource, raw: bytes, signature: str | None
    ) -> CallbackEnvelope | IntakeResult:
        """The parsed callback if its PSA signed it, else the answer to give."""
        log_ = log.bind(account=account.slug)
        if not signature:
            log_.warning("callback_rejected", reason="no signature header")
            return IntakeResult(401, "unauthorized")
        try:
            envelope = source.parse(raw)
        except CallbackParseError as exc:
            log_.warning("callback_malformed", reason=exc.message)
            return IntakeResult(
                400, "malformed", message=f"Not a ConnectWise callback: {exc.message}."
            )
        if not source.key_url_allowed(envelope.key_url):
            # Never fetched: a forged body could point at a key its author controls.
            log_.warning("callback_rejected", reason="key_url is not on the account's host")
            return IntakeResult(401, "unauthorized")
        try:
            async with asyncio.timeout(KEY_FETCH_SECONDS):
                authentic = await self.keys.verify(
                    account.id,
                    envelope.key_url,
                    raw,
                    signature,
                    source.get_signing_key,
                    source.verify_signature,
                )
        except (PSAUnavailable, PSARateLimited, KeyFetchThrottled, TimeoutError):
            log_.warning("callback_key_unavailable")
            return IntakeResult(429, "retry_later")
        except PSAError as exc:
            log_.warning("callback_rejected", reason=f"signing key not fetched: {exc.message}")
            return IntakeResult(401, "unauthorized")
        if not authentic:
            log_.warning("callback_rejected", reason="signature does not match")
            return IntakeResult(401, "unauthorized")
        return envelope

    async def _store(
        self, account: Account, source: CallbackSource, envelope: CallbackEnvelope, raw: bytes
    ) -> IntakeResult:
        log_ = log.bind(
            account=account.slug,
            type=envelope.type,
            action=envelope.action,
            record_id=envelope.record_id,
        )
        reason = unhandled_reason(envelope)
        if reason is not None:
            log_.info("callback_ignored", reason=reason)
            return IntakeResult(200, "ignored")
        values = event_values(account.id, envelope, raw, source)
        try:
            event_id = await self._store_within_deadline(values)
        except (*_STORE_ERRORS, TimeoutError):
            log_.warning("callback_not_stored", exc_info=True)
            return IntakeResult(429, "retry_later")
        if event_id is None:
            log_.info("callback_duplicate", dedupe_key=values["dedupe_key"])
            return IntakeResult(200, "duplicate")
        log_.info("callback_stored", event_id=event_id)
        self.wake.set()
        return IntakeResult(202, "accepted", event_id=event_id)

    async def _store_within_deadline(self, values: dict[str, Any]) -> int | None:
        """Store, or raise TimeoutError after STORE_SECONDS.

        A store that is slow (SQLite waiting on its busy timeout, a saturated pool) keeps
        running after we answer 429: if it lands, ConnectWise's retry is a harmless
        duplicate."""
        task = asyncio.create_task(store_event(self.database, values))
        done, _ = await asyncio.wait({task}, timeout=STORE_SECONDS)
        if task in done:
            return task.result()
        self.late_stores.add(task)
        task.add_done_callback(self._forget_store)
        raise TimeoutError("storing the callback took too long")

    def _forget_store(self, task: asyncio.Task) -> None:
        self.late_stores.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("callback_late_store_failed", error=type(task.exception()).__name__)

    async def finish_late_stores(self) -> None:
        """At shutdown: let stores that outlived their request land before the database
        closes."""
        if self.late_stores:
            await asyncio.gather(*self.late_stores, return_exceptions=True)


CALLBACK_INTAKE = web.AppKey("callback_intake", CallbackIntake)
