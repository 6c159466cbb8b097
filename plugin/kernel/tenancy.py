"""Tenancy: the account (one MSP) and scoping. Every lookup of a tenant's object goes
through here, so another tenant's object (or another session's) is indistinguishable from
an absent one (404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, JSONType, NullableJSON, UTCDateTime, utcnow
from plugin.kernel.errors import NotFound
from plugin.kernel.preferences import AccountPreferences

T = TypeVar("T")
DEFAULT_ACCOUNT = "default"


class Account(Base):
    """One MSP tenant: its PSA connection (the vendor's own configuration model, stored as
    JSON and validated by the vendor registry) and its preferences."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    psa_provider: Mapped[str] = mapped_column(String(32), default="local")
    # The vendor's connection model as JSON; secrets inside are never returned by the API.
    psa_config: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def prefs(self) -> AccountPreferences:
        return AccountPreferences.from_stored(self.preferences)


async def get_account_by_slug(db: AsyncSession, slug: str) -> Account | None:
    return (await db.execute(select(Account).where(Account.slug == slug))).scalar_one_or_none()


async def get_account(db: AsyncSession, account_id: int) -> Account:
    account = await db.get(Account, account_id)
    if account is None:  # a token outlived its account
        raise NotFound(f"Account {account_id} does not exist.", code="account_not_found")
    return account


def scoped(model: type[T], account_id: int) -> Select[tuple[T]]:
    return select(model).where(model.account_id == account_id)  # type: ignore[attr-defined]


async def get_owned(
    db: AsyncSession,
    model: type[T],
    object_id: int,
    *,
    owner: Any,
    owner_id: int,
    what: str,
    for_update: bool = False,
) -> T:
    """The `model` row `object_id` whose `owner` column is `owner_id`, else 404."""
    stmt: Any = select(model).where(model.id == object_id, owner == owner_id)  # type: ignore[attr-defined]
    if for_update:
        # FOR NO KEY UPDATE: it orders writers of the row without waiting for (or deadlocking
        # with) the key-share lock PostgreSQL takes when a child row referencing it is added.
        stmt = stmt.with_for_update(key_share=True)
    obj = (await db.execute(stmt)).scalar_one_or_none()
    if obj is None:
        code = what.lower().replace(" ", "_").replace("-", "_") + "_not_found"
        raise NotFound(f"{what} {object_id} does not exist.", code=code)
    return obj


async def get_scoped(
    db: AsyncSession,
    model: type[T],
    object_id: int,
    account_id: int,
    *,
    what: str,
    for_update: bool = False,
) -> T:
    return await get_owned(
        db,
        model,
        object_id,
        owner=model.account_id,  # type: ignore[attr-defined]
        owner_id=account_id,
        what=what,
        for_update=for_update,
    )
