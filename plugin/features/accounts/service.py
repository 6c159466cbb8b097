"""Accounts: the default account from the environment, the instance secret key, and how an
account is shown (secrets masked)."""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import delete, select

from plugin.features.accounts.models import InstanceSecret
from plugin.kernel.db import Database
from plugin.kernel.psa import (
    psa_connection,
    reseal_connection,
    secret_fields,
    set_psa_connection,
    vendor_of,
)
from plugin.kernel.secret_memory import InstanceKeys, SecretBox, is_sealed, unseal
from plugin.kernel.settings import Settings, SettingsError
from plugin.kernel.tenancy import DEFAULT_ACCOUNT, Account, get_account_by_slug
from providers.psa import PSA_VENDORS, masked_connection

log = structlog.get_logger("fixpilot.accounts")

GENERATED_SECRET = "secret_key"  # its row in `instance_secrets`


class SecretKeyError(SettingsError):
    """The configured instance secret cannot be read; `str()` says why."""


def configured_secret(settings: Settings) -> str | None:
    """The instance secret from the environment (FIXPILOT_SECRET_KEY) or a file
    (FIXPILOT_SECRET_KEY_FILE), else None."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if settings.secret_key_file is not None:
        try:
            value = settings.secret_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretKeyError(
                f"cannot read FIXPILOT_SECRET_KEY_FILE {settings.secret_key_file}: "
                f"{exc.strerror or exc}"
            ) from None
        if not value:
            raise SecretKeyError(f"FIXPILOT_SECRET_KEY_FILE {settings.secret_key_file} is empty")
        return value
    return None


def fallback_secrets(settings: Settings) -> tuple[str, ...]:
    """The configured fallback secrets (FIXPILOT_SECRET_KEY_FALLBACKS, whitespace-separated,
    and FIXPILOT_SECRET_KEY_FALLBACKS_FILE, one per line)."""
    text = ""
    if settings.secret_key_fallbacks is not None:
        text = settings.secret_key_fallbacks.get_secret_value()
    if settings.secret_key_fallbacks_file is not None:
        try:
            text += "\n" + settings.secret_key_fallbacks_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretKeyError(
                f"cannot read FIXPILOT_SECRET_KEY_FALLBACKS_FILE "
                f"{settings.secret_key_fallbacks_file}: {exc.strerror or exc}"
            ) from None
    return tuple(dict.fromkeys(text.split()))


async def stored_secret(database: Database) -> str | None:
    """The secret generated on a first start without a configured one, if any."""
    async with database.read() as db:
        return (
            await db.execute(
                select(InstanceSecret.value).where(InstanceSecret.name == GENERATED_SECRET)
            )
        ).scalar_one_or_none()


async def ensure_secret_key(database: Database, settings: Settings) -> str:
    """The configured key, else the one generated on first start and stored in the
    `instance_secrets` table (so every replica shares it; `doctor` warns about it: it sits
    in the database beside what it encrypts)."""
    configured = configured_secret(settings)
    if configured is not None:
        return configured
    async with database.write() as tx:
        await tx.execute(
            database.insert(InstanceSecret)
            .values(name=GENERATED_SECRET, value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (
            await tx.execute(
                select(InstanceSecret.value).where(InstanceSecret.name == GENERATED_SECRET)
            )
        ).scalar_one()


def connection_from_settings(settings: Settings) -> BaseModel | None:
    """The `default` account's ConnectWise connection from FIXPILOT_CW_*, if configured."""
    if not settings.connectwise_configured:
        return None
    return PSA_VENDORS["connectwise"].connection(
        api_url=settings.cw_url,
        company_id=settings.cw_company_id,
        public_key=settings.cw_public_key,
        private_key=settings.cw_private_key,
        client_id=settings.cw_client_id or "",
        api_member_id=settings.cw_api_member_id,
    )


async def instance_keys(database: Database, settings: Settings) -> InstanceKeys:
    """The instance secret, and the secrets besides it that open what they sealed: the
    configured fallbacks, and the generated secret once a configured one has replaced it
    (values it sealed stay readable until `fixpilot secrets reseal`: a remembered secret
    that no key opens would no longer be scrubbed)."""
    secret = await ensure_secret_key(database, settings)
    generated = await stored_secret(database) if configured_secret(settings) else None
    opening = (*fallback_secrets(settings), *([generated] if generated else []))
    return InstanceKeys(secret, tuple(s for s in dict.fromkeys(opening) if s != secret))


async def ensure_default_account(database: Database, settings: Settings) -> InstanceKeys:
    """A single-tenant install configures its one account from the environment; the
    environment wins over what is stored, so changing a key is a restart away. Every
    account's PSA secrets end up sealed under the instance secret (see `seal_accounts`).
    Returns the instance keys."""
    keys = await instance_keys(database, settings)
    box = keys.box()
    async with database.write() as tx:
        account = await get_account_by_slug(tx, DEFAULT_ACCOUNT)
        if account is None:
            account = Account(slug=DEFAULT_ACCOUNT, name="Default", preferences={})
            tx.add(account)
        connection = connection_from_settings(settings)
        # Rewritten only when it changed: sealing is randomised, and a new ciphertext would
        # make every replica rebuild its client.
        if connection is not None and psa_connection(account, box) != connection:
            set_psa_connection(account, "connectwise", connection, box=box)
    await seal_accounts(database, keys)
    return keys


async def seal_accounts(database: Database, keys: InstanceKeys) -> None:
    """Seal what is not sealed under the instance secret yet: keys stored in plain text (by
    an older release, or restored from a backup), keys the upgrade sealed with the generated
    secret when the configured one was not in its environment, and keys sealed under a
    fallback secret (a rotation under way)."""
    box = keys.box()
    current = SecretBox(keys.secret_key)
    async with database.write() as tx:
        for account in (await tx.execute(select(Account))).scalars():
            if not _needs_sealing(account, current):
                continue
            _, unreadable = reseal_connection(account, box)
            if unreadable:
                log.error("psa_secret_unreadable", account=account.slug)


def _needs_sealing(account: Account, current: SecretBox) -> bool:
    return any(
        isinstance(value, str)
        and name in _secret_names(account)
        and (not is_sealed(value) or unseal(current, value) is None)
        for name, value in (account.psa_config or {}).items()
    )


def _secret_names(account: Account) -> list[str]:
    vendor = vendor_of(account)
    return secret_fields(vendor.connection) if vendor is not None else []


async def forget_generated_secret(database: Database) -> None:
    async with database.write() as tx:
        await tx.execute(delete(InstanceSecret).where(InstanceSecret.name == GENERATED_SECRET))


def describe_account(account: Account, box: SecretBox | None = None) -> dict[str, Any]:
    """For the CLI and the API: secrets only ever masked (with `box`, the mask shows the
    last characters of the key, as before it was sealed)."""
    connection = psa_connection(account, box)
    return {
        "slug": account.slug,
        "name": account.name,
        "psa_provider": account.psa_provider,
        "psa_connection": masked_connection(connection) if connection is not None else None,
        "preferences": account.preferences or {},
    }
