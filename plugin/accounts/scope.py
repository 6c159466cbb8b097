"""Account scoping: every lookup of a tenant's object goes through here, so another
tenant's object is indistinguishable from an absent one (404)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.errors import NotFound

T = TypeVar("T")


def scoped(model: type[T], account_id: int) -> Select[tuple[T]]:
    return select(model).where(model.account_id == account_id)  # type: ignore[attr-defined]


async def get_scoped(
    session: AsyncSession,
    model: type[T],
    object_id: int,
    account_id: int,
    *,
    what: str,
    for_update: bool = False,
) -> T:
    stmt: Any = scoped(model, account_id).where(model.id == object_id)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    obj = (await session.execute(stmt)).scalar_one_or_none()
    if obj is None:
        raise NotFound(f"{what} {object_id} does not exist.", code=f"{_code(what)}_not_found")
    return obj


def _code(what: str) -> str:
    return what.lower().replace(" ", "_").replace("-", "_")
