"""The script library over HTTP: templates, generation, the decision endpoint, drafts,
track records, and the import command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from plugin.features.scripts.models import DraftTemplate, ScriptGeneration
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, insert_fix, new_session, state_version

RESET_PW = {
    "name": "Reset an AD password",
    "language": "powershell",
    "keywords": ["password", "reset"],
    "body": "$ErrorActionPreference = 'Stop'\n$user = {{user}}\n$pw = ConvertTo-SecureString {{password}} -AsPlainText -Force\nSet-ADAccountPassword -Identity $user -Reset -NewPassword $pw\nSet-ADUser -Identity $user -ChangePasswordAtLogon {{must_change}}\n",
    "parameters_schema": [
        {"name": "user", "type": "string", "required": True},
        {"name": "password", "type": "string", "required": True, "sensitive": True},
        {"name": "must_change", "type": "boolean", "default": True},
    ],
}
CHOICE = {
    "name": "Restart a service",
    "language": "bash",
    "body": "systemctl restart {{service}}\nsleep {{wait}}\n",
    "parameters_schema": [
        {"name": "service", "type": "choice", "choices": ["nginx", "cups"], "required": True},
        {"name": "wait", "type": "integer", "default": 2},
    ],
}


async def _template(client, headers, spec):
    resp = await client.post("/api/v1/scripts/templates", json=spec, headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_admin_creates_engineer_reads(client, admin_headers, engineer_headers):
    t = await _template(client, admin_headers, RESET_PW)
    assert t["slug"] == "reset-an-ad-password"
    assert [p["name"] for p in t["parameters_schema"]] == ["user", "password", "must_change"]
    resp = await client.post("/api/v1/scripts/templates", json=CHOICE, headers=engineer_headers)
    assert resp.status == 403
    one = await (
        await client.get(f"/api/v1/scripts/templates/{t['id']}", headers=engineer_headers)
    ).json()
    assert one["track_record"] == {
        "suggested": 0,
        "applied": 0,
        "worked": 0,
        "failed": 0,
        "partial": 0,
        "pending": 0,
    }
    assert (
        await client.post("/api/v1/scripts/templates", json=RESET_PW, headers=admin_headers)
    ).status == 409


async def test_undeclared_placeholder_is_422(client, admin_headers):
    spec = {**CHOICE, "body": "systemctl restart {{service}} {{unit}}"}
    resp = await client.post("/api/v1/scripts/templates", json=spec, headers=admin_headers)
    assert resp.status == 422
    assert "parameters.unit" in (await resp.json())["error"]["details"]["fields"]


async def test_generate_validates_each_parameter(client, admin_headers, engineer_headers):
    t = await _template(client, admin_headers, CHOICE)
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": t["id"], "parameters": {"service": "sshd", "wait": "soon"}},
        headers=engineer_headers,
    )
    assert resp.status == 422
    fields = (await resp.json())["error"]["details"]["fields"]
    assert set(fields) == {"parameters.service", "parameters.wait"}
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": t["id"], "parameters": {}},
        headers=engineer_headers,
    )
    assert "parameters.service" in (await resp.json())["error"]["details"]["fields"]
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": t["id"], "parameters": {"service": "cups"}},
        headers=engineer_headers,
    )
    assert resp.status == 201
    assert (await resp.json())["rendered_script"] == "systemctl restart 'cups'\nsleep 2\n"


async def test_injection_values_render_inert(client, admin_headers, engineer_headers):
    t = await _template(client, admin_headers, RESET_PW)
    evil = "x'; Remove-Item -Recurse C:\\ #"
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": t["id"], "parameters": {"user": evil, "password": "P@ss'w0rd!"}},
        headers=engineer_headers,
    )
    script = (await resp.json())["rendered_script"]
    assert "$user = 'x''; Remove-Item -Recurse C:\\ #'\n" in script


async def test_sensitive_values_are_never_stored_nor_sent(llm_client, llm_headers, fake_anthropic):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import get_account_by_slug

    async with db_of(llm_client).write() as db:
        account = await get_account_by_slug(db, "default")
        admin, _ = await create_token(db, account, role="admin")
    admin_headers = {"Authorization": f"Bearer {admin}"}
    t = await _template(llm_client, admin_headers, RESET_PW)
    s = await new_session(llm_client, llm_headers)
    resp = await llm_client.post(
        "/api/v1/scripts/generate",
        json={
            "template_id": t["id"],
            "parameters": {"user": "jdoe", "password": "Tr0ub4dor&3"},
            "ai_session_id": s["id"],
        },
        headers=llm_headers,
    )
    body = await resp.json()
    assert "Tr0ub4dor&3" in body["rendered_script"]  # the engineer gets the real script once
    assert body["state_version"] == 2
    async with db_of(llm_client).read() as db:
        generation = (await db.execute(select(ScriptGeneration))).scalar_one()
    assert "Tr0ub4dor&3" not in json.dumps(generation.parameters_redacted)
    assert "Tr0ub4dor&3" not in generation.rendered_script_redacted
    fake_anthropic.script(FakeAnthropic.text("Done."))
    await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "what next?"},
        headers=llm_headers,
    )
    await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/escalation-package/preview", headers=llm_headers
    )
    assert fake_anthropic.requests
    assert "Tr0ub4dor&3" not in json.dumps([r["body"] for r in fake_anthropic.requests])


async def _decide(client, headers, sid, fix_id, **body):
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix_id}/decision", json=body, headers=headers
    )


async def test_one_off_uses_the_drafted_script_and_edits_win(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    fix_id = await insert_fix(client, s["id"], ai_drafted_script="Restart-Service Spooler -Force")
    body = await (
        await _decide(client, engineer_headers, s["id"], fix_id, decision="one_off")
    ).json()
    assert body["rendered_script"] == "Restart-Service Spooler -Force"
    assert body["fix"]["decision"] == "one_off" and body["fix"]["decided_at"]
    assert body["state_version"] == 2
    body = await (
        await _decide(
            client,
            engineer_headers,
            s["id"],
            fix_id,
            decision="one_off",
            edited_script="Restart-Service Spooler",
        )
    ).json()
    assert body["rendered_script"] == "Restart-Service Spooler"
    assert body["fix"]["edited_script"] == "Restart-Service Spooler"


async def test_fix_without_template_or_script_is_400(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    fix_id = await insert_fix(client, s["id"])
    resp = await _decide(client, engineer_headers, s["id"], fix_id, decision="one_off")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "fix_has_no_script"
    assert await state_version(client, engineer_headers, s["id"]) == 1


async def test_template_matched_fix_is_generated_with_the_drafted_parameters(
    client, admin_headers, engineer_headers
):
    t = await _template(client, admin_headers, CHOICE)
    s = await new_session(client, engineer_headers)
    fix_id = await insert_fix(
        client, s["id"], template_id=t["id"], ai_drafted_parameters={"service": "cups", "wait": 5}
    )
    body = await (
        await _decide(client, engineer_headers, s["id"], fix_id, decision="one_off")
    ).json()
    assert body["rendered_script"] == "systemctl restart 'cups'\nsleep 5\n"
    assert body["generation_id"]


async def test_build_template_redirects(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    fix_id = await insert_fix(client, s["id"])
    body = await (
        await _decide(client, engineer_headers, s["id"], fix_id, decision="build_template")
    ).json()
    assert body["redirect_path"] == f"/scripts/builder?from_session={s['id']}&fix={fix_id}"


async def test_dismiss_supersedes_and_twice_is_409(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    fix_id = await insert_fix(client, s["id"])
    body = await (
        await _decide(client, engineer_headers, s["id"], fix_id, decision="dismissed")
    ).json()
    assert body["fix"]["status"] == "dismissed" and body["fix"]["superseded_at"]
    resp = await client.get(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/active", headers=engineer_headers
    )
    assert resp.status == 404
    resp = await _decide(client, engineer_headers, s["id"], fix_id, decision="dismissed")
    assert resp.status == 409
    other = await insert_fix(client, s["id"], superseded_at=datetime.now(UTC), title="old")
    assert (
        await _decide(client, engineer_headers, s["id"], other, decision="dismissed")
    ).status == 409


async def test_draft_template_with_the_offline_provider_keeps_the_script(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    script = (
        "cmdkey /delete:TERMSRV/rds01\nStop-Process -Name outlook -Force\nStart-Process outlook\n"
    )
    fix_id = await insert_fix(client, s["id"], ai_drafted_script=script)
    body = await (
        await _decide(client, engineer_headers, s["id"], fix_id, decision="draft_template")
    ).json()
    assert body["rendered_script"] == script
    drafts = await (
        await client.get("/api/v1/scripts/draft-templates", headers=engineer_headers)
    ).json()
    assert [d["id"] for d in drafts["items"]] == [body["draft_template_id"]]
    draft = drafts["items"][0]
    assert draft["parameters_schema"] == [] and draft["fell_back"] is True
    assert draft["templated_body"] == script


async def test_draft_template_through_the_llm_and_promotion(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    script = "Restart-Service -Name 'Spooler' -Force\n"
    fix_id = await insert_fix(
        llm_client, s["id"], ai_drafted_script=script, title="Restart the spooler"
    )
    answer = {
        "templated_body": "Restart-Service -Name {{service}} -Force\n",
        "parameters": [
            {"name": "service", "type": "string", "required": True, "original_value": "Spooler"}
        ],
    }
    fake_anthropic.script(FakeAnthropic.text(json.dumps(answer)))
    body = await (
        await _decide(llm_client, llm_headers, s["id"], fix_id, decision="draft_template")
    ).json()
    async with db_of(llm_client).read() as db:
        draft = (await db.execute(select(DraftTemplate))).scalar_one()
    assert draft.id == body["draft_template_id"] and draft.fell_back is False
    assert draft.templated_body == "Restart-Service -Name {{service}} -Force\n"

    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import get_account_by_slug

    async with db_of(llm_client).write() as db:
        admin, _ = await create_token(db, await get_account_by_slug(db, "default"), role="admin")
    resp = await llm_client.post(
        f"/api/v1/scripts/draft-templates/{draft.id}/promote",
        json={},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert resp.status == 201
    assert (await resp.json())["origin"] == "promoted"
    resp = await llm_client.post(
        f"/api/v1/scripts/draft-templates/{draft.id}/promote",
        json={},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert resp.status == 409


async def test_track_record_counts_outcomes(client, admin_headers, engineer_headers):
    t = await _template(client, admin_headers, CHOICE)
    now = datetime.now(UTC)
    for status in ("applied_success", "applied_success", "applied_failed", "applied_pending"):
        s = await new_session(client, engineer_headers)
        await insert_fix(client, s["id"], template_id=t["id"], status=status, applied_at=now)
    s = await new_session(client, engineer_headers)
    await insert_fix(client, s["id"], template_id=t["id"])
    one = await (
        await client.get(f"/api/v1/scripts/templates/{t['id']}", headers=engineer_headers)
    ).json()
    assert one["track_record"] == {
        "suggested": 5,
        "applied": 4,
        "worked": 2,
        "failed": 1,
        "partial": 0,
        "pending": 1,
    }
    listed = await (await client.get("/api/v1/scripts/templates", headers=engineer_headers)).json()
    assert listed["items"][0]["track_record"]["worked"] == 2


def test_import_command_is_idempotent(settings, capsys, monkeypatch):
    from plugin import cli

    monkeypatch.setenv("FIXPILOT_DATABASE_URL", settings.database_url)
    library = Path(cli.__file__).parents[1] / "features" / "scripts" / "library.json"
    assert cli.main(["templates", "import", str(library)]) == 0
    first = capsys.readouterr().out
    assert cli.main(["templates", "import", str(library)]) == 0
    second = capsys.readouterr().out
    count = len(json.loads(library.read_text()))
    assert first.strip() == f"{count} created, 0 updated, 0 unchanged"
    assert second.strip() == f"0 created, 0 updated, {count} unchanged"


async def test_sensitive_parameter_with_a_default_is_422(client, admin_headers):
    spec = {
        **RESET_PW,
        "parameters_schema": [
            {"name": "user", "type": "string", "required": True},
            {"name": "password", "type": "string", "sensitive": True, "default": "Zq9!secret"},
            {"name": "must_change", "type": "boolean", "default": True},
        ],
    }
    resp = await client.post("/api/v1/scripts/templates", json=spec, headers=admin_headers)
    assert resp.status == 422
    assert "Zq9!secret" not in await resp.text()


async def test_huge_ids_are_422_not_500(client, engineer_headers):
    resp = await client.post(
        "/api/v1/scripts/generate",
        json={"template_id": 2**70, "parameters": {}},
        headers=engineer_headers,
    )
    assert resp.status == 422
    s = await new_session(client, engineer_headers)
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"retry_of": 2**63},
        headers=engineer_headers,
    )
    assert resp.status == 422
    import base64

    cursor = base64.urlsafe_b64encode(f"id:{2**70}".encode()).decode().rstrip("=")
    resp = await client.get(f"/api/v1/ai-sessions?cursor={cursor}", headers=engineer_headers)
    assert resp.status == 422
