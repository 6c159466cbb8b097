"""The shipped script library: in every account from its first start, upgraded by version,
never over an admin's edit or an account's own template, on both backends."""

from __future__ import annotations

import argparse
import asyncio
import copy
from pathlib import Path

from sqlalchemy import select

from plugin.app import create_app
from plugin.cli.accounts import add as add_account
from plugin.features.scripts.models import ScriptTemplate
from plugin.features.scripts.service import import_templates
from plugin.features.scripts.shipped import (
    load_shipped_library,
    load_shipped_library_everywhere,
    shipped_library,
)
from plugin.kernel.appkeys import DATABASE
from plugin.kernel.db import Database
from plugin.kernel.tenancy import get_account_by_slug
from tests.conftest import _token

TEMPLATES = "/api/v1/scripts/templates"
SHIPPED = shipped_library()
SPOOLER = "restart-print-spooler"
README = Path(__file__).parents[1] / "README.md"


async def _templates(client, headers) -> dict[str, dict]:
    resp = await client.get(TEMPLATES, headers=headers)
    return {t["slug"]: t for t in (await resp.json())["items"]}


async def _load(database: Database, items: list[dict]) -> dict[str, int]:
    async with database.write() as tx:
        account = await get_account_by_slug(tx, "default")
        return await load_shipped_library(tx, account.id, items)


def _newer(slug: str, **changes) -> list[dict]:
    """The shipped library with one template at a later version."""
    items = copy.deepcopy(SHIPPED)
    item = next(i for i in items if i["slug"] == slug)
    item.update(version=item["version"] + 1, **changes)
    return items


def test_every_shipped_template_has_a_slug_and_a_version():
    assert len({t["slug"] for t in SHIPPED}) == len(SHIPPED) >= 8
    assert all(isinstance(t["version"], int) and t["version"] >= 1 for t in SHIPPED)


def test_the_readme_names_no_path_a_pip_install_lacks():
    assert "plugin/scripts/library.json" not in README.read_text()


async def test_the_first_start_loads_it_and_a_restart_changes_nothing(
    aiohttp_client, make_settings
):
    settings = make_settings(shipped_library=True)
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {await _token(client, 'engineer')}"}

    loaded = await _templates(client, headers)
    assert set(loaded) == {t["slug"] for t in SHIPPED}
    assert {(t["origin"], t["library_version"], t["edited_at"]) for t in loaded.values()} == {
        ("library", 1, None)
    }

    await client.close()
    client = await aiohttp_client(create_app(settings))  # the service starts again
    again = await _templates(client, headers)
    assert {slug: t["id"] for slug, t in again.items()} == {
        slug: t["id"] for slug, t in loaded.items()
    }


async def test_a_later_version_is_brought_in(client, engineer_headers):
    database = client.app[DATABASE]
    assert (await _load(database, SHIPPED))["created"] == len(SHIPPED)

    counts = await _load(database, _newer(SPOOLER, description="Clears the queue, v2."))

    assert counts == {"created": 0, "updated": 1, "unchanged": len(SHIPPED) - 1, "kept": 0}
    spooler = (await _templates(client, engineer_headers))[SPOOLER]
    assert (spooler["library_version"], spooler["description"]) == (2, "Clears the queue, v2.")
    assert (await _load(database, _newer(SPOOLER)))["updated"] == 0  # idempotent


async def test_an_admins_edit_is_never_overwritten(client, admin_headers):
    database = client.app[DATABASE]
    await _load(database, SHIPPED)
    spooler = (await _templates(client, admin_headers))[SPOOLER]
    edited = {
        key: spooler[key] for key in ("name", "keywords", "language", "body", "parameters_schema")
    }
    resp = await client.put(
        f"{TEMPLATES}/{spooler['id']}",
        json={**edited, "description": "Ours: call the print vendor first."},
        headers=admin_headers,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["edited_at"] is not None

    counts = await _load(database, _newer(SPOOLER, description="Shipped v2."))

    assert counts["kept"] == 1 and counts["updated"] == 0
    kept = (await _templates(client, admin_headers))[SPOOLER]
    assert (kept["description"], kept["library_version"]) == (
        "Ours: call the print vendor first.",
        1,
    )


async def test_an_accounts_own_template_of_the_same_slug_is_kept(client, admin_headers):
    shipped = next(t for t in SHIPPED if t["slug"] == SPOOLER)
    own = {k: shipped[k] for k in ("slug", "name", "keywords", "language", "parameters_schema")}
    resp = await client.post(
        TEMPLATES, json={**own, "body": "Restart-Service Spooler\n"}, headers=admin_headers
    )
    assert resp.status == 201, await resp.text()

    counts = await _load(client.app[DATABASE], SHIPPED)

    assert counts == {"created": len(SHIPPED) - 1, "updated": 0, "unchanged": 0, "kept": 1}
    template = (await _templates(client, admin_headers))[SPOOLER]
    assert (template["body"], template["origin"], template["library_version"]) == (
        "Restart-Service Spooler\n",
        "custom",
        None,
    )


async def test_a_copy_imported_before_versions_is_adopted_and_then_upgraded(
    client, engineer_headers
):
    database = client.app[DATABASE]
    async with database.write() as tx:  # what `templates import library.json` used to do
        account = await get_account_by_slug(tx, "default")
        await import_templates(tx, account.id, SHIPPED, origin="library")

    assert (await _load(database, SHIPPED))["unchanged"] == len(SHIPPED)
    assert (await _load(database, _newer(SPOOLER, description="v2")))["updated"] == 1
    assert (await _templates(client, engineer_headers))[SPOOLER]["library_version"] == 2


async def test_an_msps_own_library_over_a_shipped_template_is_kept(client, engineer_headers):
    database = client.app[DATABASE]
    await _load(database, SHIPPED)
    theirs = [{**next(t for t in SHIPPED if t["slug"] == SPOOLER), "description": "MSP's own"}]
    async with database.write() as tx:  # `fixpilot templates import their-library.json`
        account = await get_account_by_slug(tx, "default")
        assert (await import_templates(tx, account.id, theirs, origin="library"))["updated"] == 1

    assert (await _load(database, _newer(SPOOLER, description="v2")))["kept"] == 1
    assert (await _templates(client, engineer_headers))[SPOOLER]["description"] == "MSP's own"


async def test_replicas_starting_together_load_it_once(client):
    database = client.app[DATABASE]

    await asyncio.gather(*(load_shipped_library_everywhere(database) for _ in range(3)))

    async with database.read() as db:
        slugs = (await db.execute(select(ScriptTemplate.slug))).scalars().all()
    assert sorted(slugs) == sorted(t["slug"] for t in SHIPPED)


async def test_a_new_account_gets_the_library(make_settings, capsys):
    settings = make_settings(shipped_library=True)
    args = argparse.Namespace(
        slug="acme", name="Acme IT", psa=None, psa_config=None, cw_url=None,
        cw_company_id=None, cw_public_key=None, cw_private_key=None, cw_client_id=None,
        cw_api_member_id=None,
    )  # fmt: skip

    assert await asyncio.to_thread(add_account, settings, args) == 0

    assert f'"created": {len(SHIPPED)}' in capsys.readouterr().out
    database = Database(settings.database_url)
    try:
        async with database.read() as db:
            account = await get_account_by_slug(db, "acme")
            count = len(
                (
                    await db.execute(
                        select(ScriptTemplate.id).where(ScriptTemplate.account_id == account.id)
                    )
                ).all()
            )
    finally:
        await database.dispose()
    assert count == len(SHIPPED)
