"""Accounts: the default account from the environment, the instance secret key, and how an
account is shown (secrets masked)."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from plugin.features.accounts.models import InstanceSecret
from plugin.kernel.db import Database
from plugin.kernel.psa import psa_connection, set_psa_connection
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import DEFAULT_ACCOUNT, Account, get_account_by_slug
from providers.psa import PSA_VENDORS, masked_connection


async def ensure_secret_key(database: Database, settings: Settings) -> str:
    """The configured key, else the one generated on first start and stored in the
    `instance_secrets` table (so every replica shares it)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    async with database.write() as tx:
        await tx.execute(
            database.insert(InstanceSecret)
            .values(name="secret_key", value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (
            await tx.execute(
                select(InstanceSecret.value).where(InstanceSecret.name == "secret_key")
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


async def ensure_default_account(database: Database, settings: Settings) -> None:
    """A single-tenant install configures its one account from the environment; the
    environment wins over what is stored, so changing a key is a restart away."""
    async with database.write() as tx:
        account = await get_account_by_slug(tx, DEFAULT_ACCOUNT)
        if account is None:
            account = Account(slug=DEFAULT_ACCOUNT, name="Default", preferences={})
            tx.add(account)
        connection = connection_from_settings(settings)
        if connection is not None:
            set_psa_connection(account, "connectwise", connection)


def describe_account(account: Account) -> dict[str, Any]:
    """For the CLI and the API: secrets only ever masked."""
    connection = psa_connection(account)
    return {
        "slug": account.slug,
        "name": account.name,
        "psa_provider": account.psa_provider,
        "psa_connection": masked_connection(connection) if connection is not None else None,
        "preferences": account.preferences or {},
    }
