"""The server side of the pod's pages: a fix's failure reason, diagnostic checks and their
marker, the admin preferences and sign-in, API tokens, boards and doctor, the Script
Builder's routes, and the pages themselves."""

from __future__ import annotations

import json

import pytest

from plugin.features.chat.markers import MarkerStreamFilter, parse_markers
from providers.psa.simulator import DEMO_MEMBER, DEMO_MEMBER_HASH
from tests.helpers import insert_fix, new_session

SESSIONS = "/api/v1/ai-sessions"


async def _outcome(client, headers, sid, fid, **body):
    return await client.patch(
        f"{SESSIONS}/{sid}/suggested-fixes/{fid}/outcome", json=body, headers=headers
    )


async def test_failure_reason_is_stored_redacted_and_quoted_by_the_escalation_package(
    client, engineer_headers
):
    s = await new_session(client, engineer_headers)
    fid = await insert_fix(client, s["id"], applied_at=None)
    wrong = await _outcome(
        client, engineer_headers, s["id"], fid, outcome="applied_success", failure_reason="x"
    )
    assert wrong.status == 422
    assert "failure_reason" in (await wrong.json())["error"]["details"]["fields"]

    reason = "Spooler restarts, then stops; tried with password=Hunter2Hunter2 as the svc"
    resp = await _outcome(
        client, engineer_headers, s["id"], fid, outcome="applied_failed", failure_reason=reason
    )
    assert resp.status == 200, await resp.text()
    fix = await resp.json()
    assert fix["status"] == "applied_failed"
    assert fix["failure_reason"].startswith("Spooler restarts, then stops")
    assert "Hunter2Hunter2" not in fix["failure_reason"]

    preview = await client.post(
        f"{SESSIONS}/{s['id']}/escalation-package/preview", headers=engineer_headers
    )
    markdown = (await preview.json())["markdown"]
    assert "didn't work: Spooler restarts, then stops" in markdown
    assert "Hunter2Hunter2" not in markdown


async def test_didnt_work_without_a_reason_stays_plain(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    fid = await insert_fix(client, s["id"])
    resp = await _outcome(client, engineer_headers, s["id"], fid, outcome="applied_failed")
    assert (await resp.json())["failure_reason"] is None


def test_checks_marker_is_parsed_in_both_shapes_and_hidden():
    reply = (
        'Two things to look at.\n[CHECKS]["Is the spooler running?", "  ", '
        '{"text": "Does a test page print?"}, "is the spooler RUNNING?"][/CHECKS]'
    )
    parsed = parse_markers(reply)
    assert parsed.visible_text == "Two things to look at."
    assert parsed.checks == ["Is the spooler running?", "Does a test page print?"]
    assert parse_markers('[CHECKS]{"checks": ["One"]}[/CHECKS]').checks == ["One"]
    assert parse_markers("[CHECKS][][/CHECKS]").checks is None
    assert parse_markers('[CHECKS]{"checks": 3}[/CHECKS]').ignored
    stream = MarkerStreamFilter()
    shown = "".join(stream.feed(reply[i : i + 7]) for i in range(0, len(reply), 7))
    shown += stream.finish()
    assert shown == parsed.visible_text and stream.result.checks == parsed.checks


async def test_proposed_checks_ticked_become_facts_and_newer_checks_replace_open_ones(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(
        fake_anthropic.text(
            'Check these.\n[CHECKS]["Is the spooler running?", "Any event 372?"][/CHECKS]'
        ),
        fake_anthropic.text('And now.\n[CHECKS]["Any event 372?", "Driver version?"][/CHECKS]'),
    )
    turn = await llm_client.post(
        f"{SESSIONS}/{s['id']}/messages", json={"content": "Printing fails"}, headers=llm_headers
    )
    body = await turn.json()
    assert [c["text"] for c in body["proposed_checks"]] == [
        "Is the spooler running?",
        "Any event 372?",
    ]
    first = body["proposed_checks"][0]
    result = await llm_client.post(
        f"{SESSIONS}/{s['id']}/checks/{first['id']}/result",
        json={"result": "No, it is stopped"},
        headers=llm_headers,
    )
    assert result.status == 201, await result.text()
    done = await result.json()
    assert done["fact"]["text"] == "Is the spooler running: No, it is stopped"
    assert done["check"]["status"] == "done" and done["state_version"] > body["state_version"]
    again = await llm_client.post(
        f"{SESSIONS}/{s['id']}/checks/{first['id']}/result",
        json={"result": "yes"},
        headers=llm_headers,
    )
    assert again.status == 409

    await llm_client.post(
        f"{SESSIONS}/{s['id']}/messages", json={"content": "Started it"}, headers=llm_headers
    )
    checks = (
        await (await llm_client.get(f"{SESSIONS}/{s['id']}/checks", headers=llm_headers)).json()
    )["items"]
    assert [(c["text"], c["status"]) for c in checks] == [
        ("Is the spooler running?", "done"),
        ("Any event 372?", "proposed"),
        ("Driver version?", "proposed"),
    ]
    dismissed = await llm_client.post(
        f"{SESSIONS}/{s['id']}/checks/{checks[2]['id']}/dismiss", headers=llm_headers
    )
    assert (await dismissed.json())["status"] == "dismissed"
    # The marker is documented to the model.
    system = json.dumps(fake_anthropic.requests[0]["body"]["system"])
    assert "[CHECKS]" in system


async def test_admin_preferences_are_validated_with_readable_messages(client, admin_headers):
    resp = await client.patch(
        "/api/v1/settings",
        json={
            "preferences": {
                "extra_pod_origins": ["https://ok.example.com", "http://x.example"],
                "admin_members": ["jsmith", "bad member"],
            }
        },  # fmt: skip
        headers=admin_headers,
    )
    assert resp.status == 422
    fields = (await resp.json())["error"]["details"]["fields"]
    assert fields["extra_pod_origins.1"].startswith("must be an https origin")
    assert fields["admin_members.1"].startswith("must be a ConnectWise member identifier")


async def test_extra_origins_may_frame_every_page(cw_client, cw_admin_headers, cw_sim):
    resp = await cw_client.patch(
        "/api/v1/settings",
        json={"preferences": {"extra_pod_origins": ["https://cw.example.com"]}},
        headers=cw_admin_headers,
    )
    assert resp.status == 200, await resp.text()
    # Each page may be framed by the window that frames it, when that is one of them.
    for path in ("/pod", "/scripts", "/scripts/builder", "/admin"):
        page = await cw_client.get(path, headers={"Referer": "https://cw.example.com/x?y=1"})
        assert page.status == 200
        policy = page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy
        assert policy.endswith("frame-ancestors https://cw.example.com")
        assert "https://cw.example.com" in await page.text()
        page = await cw_client.get(path, params={"embed": cw_sim.site_url})
        assert page.headers["Content-Security-Policy"].endswith(
            f"frame-ancestors {cw_sim.site_url}"
        )
    origins = await (await cw_client.get("/api/v1/pod/origins", headers=cw_admin_headers)).json()
    assert origins == {"from_psa": [cw_sim.site_url], "extra": ["https://cw.example.com"]}
    icon = await cw_client.get("/favicon.ico")
    assert icon.headers["Content-Type"] == "image/svg+xml"


async def test_admin_members_get_an_admin_session_others_are_refused(cw_client, cw_admin_headers):
    body = {"member_id": DEMO_MEMBER, "member_hash": DEMO_MEMBER_HASH, "role": "admin"}
    refused = await cw_client.post("/api/v1/pod/session", json=body)
    assert refused.status == 403
    engineer = await (
        await cw_client.post("/api/v1/pod/session", json={**body, "role": "engineer"})
    ).json()
    assert (engineer["role"], engineer["may_admin"]) == ("engineer", False)

    await cw_client.patch(
        "/api/v1/settings",
        json={"preferences": {"admin_members": ["JSmith"]}},
        headers=cw_admin_headers,
    )
    admin = await (await cw_client.post("/api/v1/pod/session", json=body)).json()
    assert (admin["role"], admin["may_admin"]) == ("admin", True)
    headers = {"Authorization": f"Bearer {admin['token']}"}
    me = await (await cw_client.get("/api/v1/me", headers=headers)).json()
    assert me == {"account": "default", "role": "admin", "kind": "pod", "actor": "jsmith"}
    assert (await cw_client.get("/api/v1/admin/tokens", headers=headers)).status == 200


async def test_api_tokens_listed_created_once_and_revoked(client, admin_headers, engineer_headers):
    assert (await client.get("/api/v1/admin/tokens", headers=engineer_headers)).status == 403
    created = await client.post(
        "/api/v1/admin/tokens",
        json={"name": "backup job", "role": "engineer"},
        headers=admin_headers,
    )
    assert created.status == 201
    token = await created.json()
    assert token["token"].startswith("fxp_") and token["prefix"] == token["token"][:10] + "…"
    listed = (await (await client.get("/api/v1/admin/tokens", headers=admin_headers)).json())[
        "items"
    ]
    assert "token" not in listed[-1] and listed[-1]["name"] == "backup job"
    new_headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.get("/api/v1/me", headers=new_headers)).status == 200
    revoked = await client.delete(f"/api/v1/admin/tokens/{token['id']}", headers=admin_headers)
    assert (await revoked.json())["revoked_at"] is not None
    assert (await client.get("/api/v1/me", headers=new_headers)).status == 401
    me = await (await client.get("/api/v1/me", headers=admin_headers)).json()
    own = await client.delete(
        f"/api/v1/admin/tokens/{me['actor'].split(':')[1]}", headers=admin_headers
    )
    assert own.status == 409


async def test_boards_and_doctor_for_the_admin_page(
    cw_client, cw_admin_headers, cw_engineer_headers
):
    boards = await (await cw_client.get("/api/v1/psa/boards", headers=cw_engineer_headers)).json()
    assert [(b["id"], b["name"]) for b in boards["items"]] == [(1, "Help Desk"), (2, "Escalations")]
    assert (await cw_client.get("/api/v1/admin/doctor", headers=cw_engineer_headers)).status == 403
    report = await (await cw_client.get("/api/v1/admin/doctor", headers=cw_admin_headers)).json()
    assert report["lines"] and report["failures"] == sum(not line["ok"] for line in report["lines"])
    assert any("credentials" in line["what"].lower() and line["ok"] for line in report["lines"])


BUILDER_SCRIPT = (
    "$computer = 'PRN-07'\n$secret = ConvertTo-SecureString 'Winter2024!Sp00l' -AsPlainText -Force"
)
TEMPLATE = "$computer = {{computer}}\n$secret = ConvertTo-SecureString {{pw}} -AsPlainText -Force"
SCHEMA = [
    {"name": "computer", "type": "name", "required": True},
    {"name": "pw", "type": "string", "required": True, "sensitive": True},
]


async def test_builder_proposal_check_and_drafts(client, engineer_headers, admin_headers):
    s = await new_session(client, engineer_headers)
    fid = await insert_fix(client, s["id"], edited_script=BUILDER_SCRIPT)
    source = {"session_id": s["id"], "fix_id": fid}
    proposal = await (
        await client.post("/api/v1/scripts/builder/proposal", json=source, headers=engineer_headers)
    ).json()
    assert proposal["fell_back"] is True and proposal["language"] == "powershell"
    assert "Winter2024" not in json.dumps(proposal)  # the builder never needs the secret

    check = await client.post(
        "/api/v1/scripts/builder/check",
        json={
            "language": "powershell",
            "body": TEMPLATE,
            "parameters_schema": SCHEMA,
            "examples": {"computer": "PRN-99"},
            "source": source,
        },  # fmt: skip
        headers=engineer_headers,
    )
    result = await check.json()
    assert result["valid"] is True
    assert result["preview"] == (
        "$computer = 'PRN-99'\n$secret = ConvertTo-SecureString '[REDACTED]' -AsPlainText -Force"
    )
    assert result["round_trip"]["reproduces"] is True

    bad = await (
        await client.post(
            "/api/v1/scripts/builder/check",
            json={
                "language": "powershell",
                "body": TEMPLATE + " {{other}}",
                "parameters_schema": SCHEMA,
                "examples": {},
            },  # fmt: skip
            headers=engineer_headers,
        )
    ).json()
    assert bad["valid"] is False and bad["preview"] is None
    assert "parameters.other" in bad["errors"]
    missing = await (
        await client.post(
            "/api/v1/scripts/builder/check",
            json={"language": "powershell", "body": TEMPLATE, "parameters_schema": SCHEMA},
            headers=engineer_headers,
        )
    ).json()
    assert missing["errors"] == {"examples.computer": "is required"}

    draft = await client.post(
        "/api/v1/scripts/draft-templates",
        json={
            "name": "Spooler with a service account",
            "language": "powershell",
            "templated_body": TEMPLATE,
            "parameters_schema": SCHEMA,
            "source": source,
        },  # fmt: skip
        headers=engineer_headers,
    )
    assert draft.status == 201, await draft.text()
    stored = await draft.json()
    assert stored["generator"] == "builder" and "Winter2024" not in stored["source_script"]
    edit = {"name": "Renamed", "templated_body": TEMPLATE, "parameters_schema": SCHEMA}
    path = f"/api/v1/scripts/draft-templates/{stored['id']}"
    assert (await client.put(path, json=edit, headers=engineer_headers)).status == 403
    assert (await (await client.put(path, json=edit, headers=admin_headers)).json())[
        "name"
    ] == "Renamed"
    discarded = await client.post(path + "/discard", headers=admin_headers)
    assert (await discarded.json())["status"] == "discarded"
    assert (await client.post(path + "/discard", headers=admin_headers)).status == 409


@pytest.mark.parametrize(
    "body", [{"session_id": 1}, {}, {"script": "x", "fix_id": 1, "session_id": 1}]
)
async def test_builder_source_is_one_thing(client, engineer_headers, body):
    resp = await client.post(
        "/api/v1/scripts/builder/proposal", json=body, headers=engineer_headers
    )
    assert resp.status == 422


async def test_builder_proposal_premarks_the_extracted_parameters(
    llm_client, llm_headers, fake_anthropic
):
    script = "Restart-Service -Name 'Spooler'\n$pw = 'Winter2024!Sp00l'"
    answer = {
        "templated_body": "Restart-Service -Name {{service}}\n$pw = {{pw}}",
        "parameters": [
            {"name": "service", "type": "name", "required": True, "original_value": "Spooler"},
            {
                "name": "pw",
                "type": "string",
                "required": True,
                "sensitive": True,
                "original_value": "[REDACTED]",
            },  # fmt: skip
        ],
    }
    fake_anthropic.script(fake_anthropic.text(json.dumps(answer)))
    resp = await llm_client.post(
        "/api/v1/scripts/builder/proposal",
        json={"script": script, "language": "powershell"},
        headers=llm_headers,
    )
    proposal = await resp.json()
    assert proposal["fell_back"] is False, proposal["reason"]
    assert [p["name"] for p in proposal["parameters_schema"]] == ["service", "pw"]
    assert proposal["examples"] == {"service": "Spooler"}  # never the secret's
    assert "Winter2024" not in json.dumps(proposal)
