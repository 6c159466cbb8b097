"""ConnectWise callback intake: verify, dedupe, store, answer fast.

ConnectWise waits about 5 s, retries only 404/409/419/429 and never a 5xx (CONNECTWISE.md),
so every answer here is chosen for what ConnectWise will do with it: 2xx once the event is
safely stored (or is a duplicate, or of a type we don't handle), 429 when it can't be stored
right now, 401 for anything unauthentic, 400 for a body that isn't a callback. Processing
happens later, in the callback worker.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from plugin.accounts.models import Account
from plugin.callbacks.keys import KeyFetchThrottled, SigningKeyCache
from plugin.callbacks.models import PSACallbackEvent
from plugin.db import Database
from plugin.services import Services
from providers.psa.base import PSAError, PSARateLimited, PSAUnavailable
from providers.psa.connectwise import (
    CallbackEnvelope,
    CallbackParseError,
    dedupe_key,
    key_url_allowed,
    parse_callback,
)

log = structlog.get_logger("fixpilot.callbacks.intake")

HANDLED_TYPES = frozenset({"ticket"})
HANDLED_ACTIONS = frozenset({"added", "updated", "deleted"})
# Both well inside ConnectWise's 5 s: past them we answer 429 and let it retry.
KEY_FETCH_SECONDS = 3.0
STORE_SECONDS = 2.0
_KEYS = "callback_signing_keys"
_PENDING_STORES = "callback_pending_stores"
WAKE_WORKER = "callback_worker_wake"
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


def event_values(account_id: int, envelope: CallbackEnvelope, raw: bytes) -> dict[str, Any]:
    """The stored row: the parsed envelope (Entity already decoded) and its dedupe key."""
    return {
        "account_id": account_id,
        "dedupe_key": dedupe_key(envelope, raw)[:128],
        "record_id": envelope.record_id,
        "event_type": envelope.type[:32],
        "action": envelope.action[:32],
        "payload": asdict(envelope),
    }


async def store_event(db: Database, values: dict[str, Any]) -> int | None:
    """Insert-or-ignore on (account, dedupe key): the new id, or None for a duplicate."""
    insert = sqlite_insert if db.is_sqlite else pg_insert
    stmt = (
        insert(PSACallbackEvent)
        .values(status="pending", attempts=0, **values)
        .on_conflict_do_nothing(index_elements=["account_id", "dedupe_key"])
        .returning(PSACallbackEvent.id)
    )
    async with db.write() as session:
        return (await session.execute(stmt)).scalar_one_or_none()


async def receive(
    services: Services, account_slug: str, raw: bytes, signature: str | None
) -> IntakeResult:
    try:
        account = await _connectwise_account(services.db, account_slug)
    except _STORE_ERRORS:
        log.warning("callback_account_lookup_failed", account=account_slug, exc_info=True)
        return IntakeResult(429, "retry_later")
    if account is None:
        return IntakeResult(404, "not_found", message=f"No ConnectWise account {account_slug!r}.")
    verified = await _verified_envelope(services, account, raw, signature)
    if isinstance(verified, IntakeResult):
        return verified
    envelope = verified

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

    values = event_values(account.id, envelope, raw)
    try:
        event_id = await _store_within_deadline(services, values)
    except (*_STORE_ERRORS, TimeoutError):
        log_.warning("callback_not_stored", exc_info=True)
        return IntakeResult(429, "retry_later")
    if event_id is None:
        log_.info("callback_duplicate", dedupe_key=values["dedupe_key"])
        return IntakeResult(200, "duplicate")
    log_.info("callback_stored", event_id=event_id)
    wake_worker(services)
    return IntakeResult(202, "accepted", event_id=event_id)


async def _verified_envelope(
    services: Services, account: Account, raw: bytes, signature: str | None
) -> CallbackEnvelope | IntakeResult:
    """The parsed callback if ConnectWise signed it, else the answer to give."""
    log_ = log.bind(account=account.slug)
    if not signature:
        log_.warning("callback_rejected", reason="no signature header")
        return IntakeResult(401, "unauthorized")
    try:
        envelope = parse_callback(raw)
    except CallbackParseError as exc:
        log_.warning("callback_malformed", reason=exc.message)
        return IntakeResult(400, "malformed", message=f"Not a ConnectWise callback: {exc.message}.")
    fetch_key = getattr(services.psa.for_account(account), "get_signing_key", None)
    if fetch_key is None:
        return IntakeResult(404, "not_found", message="This account's PSA sends no callbacks.")
    if not key_url_allowed(envelope.key_url, account.cw_api_url):
        # Never fetched: a forged body could point at a key its author controls.
        log_.warning("callback_rejected", reason="key_url is not on the account's host")
        return IntakeResult(401, "unauthorized")
    try:
        async with asyncio.timeout(KEY_FETCH_SECONDS):
            authentic = await _keys(services).verify(
                account.id, envelope.key_url, raw, signature, fetch_key
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


def wake_worker(services: Services) -> None:
    services.extras.setdefault(WAKE_WORKER, asyncio.Event()).set()


async def _connectwise_account(db: Database, slug: str) -> Account | None:
    async with db.read() as session:
        account = (
            await session.execute(select(Account).where(Account.slug == slug))
        ).scalar_one_or_none()
    if account is None or account.psa_provider != "connectwise" or not account.cw_api_url:
        return None
    return account


def _keys(services: Services) -> SigningKeyCache:
    return services.extras.setdefault(_KEYS, SigningKeyCache())


async def _store_within_deadline(services: Services, values: dict[str, Any]) -> int | None:
    """Store, or raise TimeoutError after STORE_SECONDS.

    A store that is slow (SQLite waiting on its busy timeout, a saturated pool) keeps running
    after we answer 429: if it lands, ConnectWise's retry is a harmless duplicate."""
    task = asyncio.create_task(store_event(services.db, values))
    done, _ = await asyncio.wait({task}, timeout=STORE_SECONDS)
    if task in done:
        return task.result()
    pending: set[asyncio.Task] = services.extras.setdefault(_PENDING_STORES, set())
    pending.add(task)
    task.add_done_callback(_forget_store(pending))
    raise TimeoutError("storing the callback took too long")


async def finish_late_stores(services: Services) -> None:
    """At shutdown: let stores that outlived their request land before the database closes."""
    pending = services.extras.get(_PENDING_STORES) or set()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def _forget_store(pending: set[asyncio.Task]):
    def done(task: asyncio.Task) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("callback_late_store_failed", error=type(task.exception()).__name__)

    return done
