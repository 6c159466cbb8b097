"""Accounts: the default account from the environment, the instance secret key, masking."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.accounts.models import Account, InstanceSecret
from plugin.db import Database
from plugin.settings import Settings

DEFAULT_ACCOUNT = "default"


def mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


async def ensure_secret_key(db: Database, settings: Settings) -> str:
    """The configured key, else the one generated on first start and stored in the
    `instance_secrets` table (so every replica shares it)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    insert = pg_insert if not db.is_sqlite else sqlite_insert
    async with db.write() as session:
        await session.execute(
            insert(InstanceSecret)
            .values(name="secret_key", value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (
            await session.execute(
                select(InstanceSecret.value).where(InstanceSecret.name == "secret_key")
            )
        ).scalar_one()


def connection_from_settings(settings: Settings) -> dict[str, Any]:
    if not settings.connectwise_configured:
        return {}
    return {
        "psa_provider": "connectwise",
        "cw_api_url": settings.cw_url,
        "cw_company_id": settings.cw_company_id,
        "cw_public_key": settings.cw_public_key,
        "cw_private_key": settings.cw_private_key.get_secret_value()
        if settings.cw_private_key
        else None,
        "cw_client_id": settings.cw_client_id,
        "cw_api_member_id": settings.cw_api_member_id,
    }


async def ensure_default_account(db: Database, settings: Settings) -> None:
    """A single-tenant install configures its one account from the environment; the
    environment wins over what is stored, so changing a key is a restart away."""
    async with db.write() as session:
        account = await get_account_by_slug(session, DEFAULT_ACCOUNT)
        if account is None:
            account = Account(slug=DEFAULT_ACCOUNT, name="Default", preferences={})
            session.add(account)
        for key, value in connection_from_settings(settings).items():
            setattr(account, key, value)


async def get_account_by_slug(session: AsyncSession, slug: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.slug == slug))).scalar_one_or_none()


def describe_account(account: Account) -> dict[str, Any]:
    """For the CLI and the API: the private key only ever masked."""
    return {
        "slug": account.slug,
        "name": account.name,
        "psa_provider": account.psa_provider,
        "cw_api_url": account.cw_api_url,
        "cw_company_id": account.cw_company_id,
        "cw_public_key": account.cw_public_key,
        "cw_private_key": mask(account.cw_private_key),
        "cw_client_id": account.cw_client_id,
        "cw_api_member_id": account.cw_api_member_id,
        "preferences": account.preferences or {},
    }
