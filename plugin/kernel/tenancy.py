"""Scoping: every lookup of a tenant's object goes through here, so another tenant's object
(or another session's) is indistinguishable from an absent one (404)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.errors import NotFound

T = TypeVar("T")


def scoped(model: type[T], account_id: int) -> Select[tuple[T]]:
    return select(model).where(model.account_id == account_id)  # type: ignore[attr-defined]


async def get_owned(
    session: AsyncSession,
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
        stmt = stmt.with_for_update()
    obj = (await session.execute(stmt)).scalar_one_or_none()
    if obj is None:
        code = what.lower().replace(" ", "_").replace("-", "_") + "_not_found"
        raise NotFound(f"{what} {object_id} does not exist.", code=code)
    return obj


async def get_scoped(
    session: AsyncSession,
    model: type[T],
    object_id: int,
    account_id: int,
    *,
    what: str,
    for_update: bool = False,
) -> T:
    return await get_owned(
        session,
        model,
        object_id,
        owner=model.account_id,  # type: ignore[attr-defined]
        owner_id=account_id,
        what=what,
        for_update=for_update,
    )
