"""The script library Fixpilot ships (`library.json`, beside this module): every account
gets it, and an upgrade brings each account's copy up to the shipped versions.

Each shipped template carries a `version`. Loading it is idempotent and goes by version:

- a template the account lacks is added (with the version it came from);
- an account's copy of an older version is brought up to the shipped one;
- a copy an admin edited (`edited_at`) keeps the admin's version, always;
- a template of the same slug that is the account's own (an admin's, or imported from an
  MSP's file) is left alone, unless it is exactly the shipped text, which it then becomes.

`fixpilot templates import FILE` stays for an MSP's own libraries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.scripts.models import ScriptTemplate
from plugin.features.scripts.service import template_fields
from plugin.kernel.db import Database, insert_for
from plugin.kernel.states import TemplateOrigin
from plugin.kernel.tenancy import Account

log = structlog.get_logger("fixpilot.scripts")

SHIPPED_LIBRARY = "library.json"


def shipped_library() -> list[dict[str, Any]]:
    """The shipped templates, each with its `slug` and a `version` (a positive integer)."""
    text = resources.files(__package__).joinpath(SHIPPED_LIBRARY).read_text(encoding="utf-8")
    items = json.loads(text)
    for index, item in enumerate(items):
        version = item.get("version")
        if not item.get("slug") or not isinstance(version, int) or version < 1:
            raise ValueError(f"shipped template #{index + 1} needs a slug and a version >= 1")
    return items


@dataclass(frozen=True)
class ShippedTemplate:
    slug: str
    version: int
    values: dict[str, Any]  # the stored fields, checked


def checked_library(items: list[dict[str, Any]]) -> list[ShippedTemplate]:
    """The templates, each checked like an admin's (once, whatever the number of accounts)."""
    checked = []
    for index, item in enumerate(items):
        slug, values = template_fields(item, index)
        checked.append(ShippedTemplate(slug, int(item["version"]), values))
    return checked


async def load_shipped_library(
    tx: AsyncSession, account_id: int, items: list[dict[str, Any]] | None = None
) -> dict[str, int]:
    """Bring one account's copy of the shipped library up to date (see the module doc).
    Counts: created, updated, unchanged, kept (an admin's edit or the account's own)."""
    library = checked_library(shipped_library() if items is None else items)
    return await _load(tx, account_id, library)


async def _load(
    tx: AsyncSession, account_id: int, library: list[ShippedTemplate]
) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0, "kept": 0}
    rows = await tx.execute(select(ScriptTemplate).where(ScriptTemplate.account_id == account_id))
    existing = {row.slug: row for row in rows.scalars()}
    for shipped in library:
        slug, version, values = shipped.slug, shipped.version, shipped.values
        row = existing.get(slug)
        if row is None:
            await _add(tx, account_id, slug, version, values)
            counts["created"] += 1
        elif row.edited_at is not None:
            counts["kept"] += 1
        elif row.library_version is None:
            if _same_text(row, values):  # the shipped template, imported before versions
                row.library_version = version
                counts["unchanged"] += 1
            else:
                counts["kept"] += 1
        elif row.library_version < version:
            for key, value in values.items():
                setattr(row, key, value)
            row.library_version = version
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    await tx.flush()
    return counts


async def load_shipped_library_everywhere(database: Database) -> dict[str, dict[str, int]]:
    """Every account's copy, brought up to date (at start-up: first start and upgrades).
    One transaction per account, so one account's trouble doesn't hold the others back."""
    library = checked_library(shipped_library())
    async with database.read() as db:
        accounts = (await db.execute(select(Account.id, Account.slug))).all()
    loaded = {}
    for account_id, slug in accounts:
        async with database.write() as tx:
            loaded[slug] = await _load(tx, account_id, library)
        if any(loaded[slug][what] for what in ("created", "updated")):
            log.info("shipped_library_loaded", account=slug, **loaded[slug])
    return loaded


async def _add(
    tx: AsyncSession, account_id: int, slug: str, version: int, values: dict[str, Any]
) -> None:
    # Another replica starting at the same moment may add it first: that one wins.
    statement = (
        insert_for(tx.bind.dialect.name, ScriptTemplate)
        .values(
            account_id=account_id,
            slug=slug,
            origin=TemplateOrigin.LIBRARY,
            library_version=version,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "slug"])
    )
    await tx.execute(statement)


def _same_text(row: ScriptTemplate, values: dict[str, Any]) -> bool:
    return all(getattr(row, key) == value for key, value in values.items())
