"""AI sessions and facts: creation, scoping, pagination, state_version on every write."""

from __future__ import annotations

from tests.helpers import new_session, state_version


async def test_create_and_get_session(client, engineer_headers):
    created = await new_session(client, engineer_headers, psa_ticket_id=1001)
    assert created["status"] == "active"
    assert created["state_version"] == 1
    assert created["psa_ticket_id"] == 1001
    assert created["active_fix"] is None and created["banner_mode"] is None
    resp = await client.get(f"/api/v1/ai-sessions/{created['id']}", headers=engineer_headers)
    assert resp.status == 200
    assert (await resp.json())["id"] == created["id"]


async def test_blank_title_is_422_naming_the_field(client, engineer_headers):
    resp = await client.post("/api/v1/ai-sessions", json={"title": "  "}, headers=engineer_headers)
    assert resp.status == 422
    assert "title" in (await resp.json())["error"]["details"]["fields"]


async def test_unknown_field_is_422(client, engineer_headers):
    resp = await client.post(
        "/api/v1/ai-sessions", json={"title": "x", "tiket": 4}, headers=engineer_headers
    )
    assert resp.status == 422
    assert "tiket" in (await resp.json())["error"]["details"]["fields"]


async def test_list_filters_by_ticket_and_paginates(client, engineer_headers):
    for i in range(5):
        await new_session(client, engineer_headers, title=f"s{i}", psa_ticket_id=77)
    await new_session(client, engineer_headers, title="other", psa_ticket_id=78)
    seen = []
    cursor = None
    while True:
        url = "/api/v1/ai-sessions?psa_ticket_id=77&limit=2" + (
            f"&cursor={cursor}" if cursor else ""
        )
        body = await (await client.get(url, headers=engineer_headers)).json()
        seen += [s["title"] for s in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["s4", "s3", "s2", "s1", "s0"]


async def test_bad_cursor_and_bad_query_are_422(client, engineer_headers):
    resp = await client.get("/api/v1/ai-sessions?cursor=%%%", headers=engineer_headers)
    assert resp.status == 422
    resp = await client.get("/api/v1/ai-sessions?psa_ticket_id=abc", headers=engineer_headers)
    assert resp.status == 422
    assert "psa_ticket_id" in (await resp.json())["error"]["details"]["fields"]


async def test_non_numeric_id_is_404(client, engineer_headers):
    resp = await client.get("/api/v1/ai-sessions/abc", headers=engineer_headers)
    assert resp.status == 404


async def test_another_accounts_session_is_404(client, engineer_headers):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account
    from tests.helpers import db_of

    created = await new_session(client, engineer_headers)
    async with db_of(client).write() as session:
        other = Account(slug="other", name="Other", preferences={})
        session.add(other)
        await session.flush()
        token, _ = await create_token(session, other, role="admin")
    other_headers = {"Authorization": f"Bearer {token}"}
    for method, url in [
        ("GET", f"/api/v1/ai-sessions/{created['id']}"),
        ("GET", f"/api/v1/ai-sessions/{created['id']}/facts"),
        ("POST", f"/api/v1/ai-sessions/{created['id']}/facts"),
        ("GET", f"/api/v1/ai-sessions/{created['id']}/suggested-fixes"),
    ]:
        resp = await client.request(method, url, json={"text": "x"}, headers=other_headers)
        assert resp.status == 404, (method, url)
    listed = await (await client.get("/api/v1/ai-sessions", headers=other_headers)).json()
    assert listed["items"] == []


async def test_fact_writes_bump_state_version(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    base = f"/api/v1/ai-sessions/{s['id']}/facts"
    resp = await client.post(
        base, json={"text": "Spooler service is stopped"}, headers=engineer_headers
    )
    assert resp.status == 201
    fact = await resp.json()
    assert fact["state_version"] == 2
    resp = await client.patch(
        f"{base}/{fact['id']}",
        json={"text": "Spooler service stops after 10s"},
        headers=engineer_headers,
    )
    assert resp.status == 200
    assert (await resp.json())["state_version"] == 3
    facts = await (await client.get(base, headers=engineer_headers)).json()
    assert [f["text"] for f in facts["items"]] == ["Spooler service stops after 10s"]
    resp = await client.delete(f"{base}/{fact['id']}", headers=engineer_headers)
    assert resp.status == 204
    assert await state_version(client, engineer_headers, s["id"]) == 4
    resp = await client.delete(f"{base}/{fact['id']}", headers=engineer_headers)
    assert resp.status == 404
    assert await state_version(client, engineer_headers, s["id"]) == 4


async def test_blank_fact_is_422_and_changes_nothing(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/facts", json={"text": " "}, headers=engineer_headers
    )
    assert resp.status == 422
    assert await state_version(client, engineer_headers, s["id"]) == 1
