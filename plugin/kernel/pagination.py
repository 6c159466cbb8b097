"""Keyset pagination by id: `{"items": [...], "next_cursor": ...}` with an opaque cursor."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import MAX_ID


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "id":
            raise ValueError
        last_id = int(value)
        if not 0 < last_id <= MAX_ID:
            raise ValueError
        return last_id
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable(
            "The cursor is not valid; use next_cursor from a previous page.",
            details={"fields": {"cursor": "not a cursor this API issued"}},
        ) from None


async def fetch_page(
    db: AsyncSession,
    stmt: Select,
    id_column: Any,
    cursor: str | None,
    limit: int,
    *,
    newest_first: bool,
) -> tuple[list, str | None]:
    """One page of `stmt`'s rows ordered by id, and the cursor of the next page (or None)."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column.asc()
    rows = list((await db.execute(stmt.order_by(order).limit(limit + 1))).scalars())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].id)
    return rows, None
