"""Bearer tokens, roles, account scoping and the validated settings route."""

from __future__ import annotations

from plugin.kernel.appkeys import DATABASE


async def test_no_token_is_401_in_the_error_shape(client):
    resp = await client.get("/api/v1/settings")
    assert resp.status == 401
    body = await resp.json()
    assert body["error"]["code"] == "missing_token"


async def test_bad_token_is_401(client):
    resp = await client.get("/api/v1/settings", headers={"Authorization": "Bearer fxp_nope"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_token"


async def test_engineer_on_admin_route_is_403(client, engineer_headers):
    resp = await client.put("/api/v1/settings", json={"preferences": {}}, headers=engineer_headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "admin_required"


async def test_revoked_token_is_401(client, admin_headers):
    from sqlalchemy import update

    from plugin.features.accounts.models import ApiToken
    from plugin.kernel.db import utcnow

    db = client.app[DATABASE]
    async with db.write() as session:
        await session.execute(update(ApiToken).values(revoked_at=utcnow()))
    resp = await client.get("/api/v1/settings", headers=admin_headers)
    assert resp.status == 401


async def test_tokens_are_stored_hashed(client, admin_headers):
    from sqlalchemy import select

    from plugin.features.accounts.models import ApiToken

    token = admin_headers["Authorization"].split()[1]
    async with client.app[DATABASE].read() as session:
        stored = (await session.execute(select(ApiToken.token_hash))).scalars().all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


async def test_settings_round_trip(client, admin_headers):
    prefs = {
        "cw_resolved_status_id": 5,
        "cw_escalated_status_id": None,
        "board_overrides": {"2": {"resolved": 9}},
        "auto_open_boards": [1],
    }
    resp = await client.put("/api/v1/settings", json={"preferences": prefs}, headers=admin_headers)
    assert resp.status == 200, await resp.text()
    resp = await client.get("/api/v1/settings", headers=admin_headers)
    assert await resp.json() == {"account": "default", "preferences": prefs}


async def test_invalid_preferences_are_422_naming_fields(client, admin_headers):
    await client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 5}},
        headers=admin_headers,
    )
    resp = await client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": "five", "colour": "blue"}},
        headers=admin_headers,
    )
    assert resp.status == 422
    fields = (await resp.json())["error"]["details"]["fields"]
    assert "cw_resolved_status_id" in fields
    assert "colour" in fields
    # Nothing stored was lost.
    resp = await client.get("/api/v1/settings", headers=admin_headers)
    assert (await resp.json())["preferences"] == {"cw_resolved_status_id": 5}


async def test_malformed_json_is_400(client, admin_headers):
    resp = await client.put(
        "/api/v1/settings",
        data=b'{"preferences": ',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"


async def test_missing_body_field_is_422(client, admin_headers):
    resp = await client.put("/api/v1/settings", json={}, headers=admin_headers)
    assert resp.status == 422
    assert "preferences" in (await resp.json())["error"]["details"]["fields"]


async def test_another_accounts_token_sees_its_own_settings(client, admin_headers):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account

    db = client.app[DATABASE]
    async with db.write() as session:
        other = Account(slug="other-msp", name="Other MSP", preferences={"auto_open_boards": [7]})
        session.add(other)
        await session.flush()
        token, _ = await create_token(session, other, role="admin")
    await client.put(
        "/api/v1/settings", json={"preferences": {"auto_open_boards": [1]}}, headers=admin_headers
    )
    resp = await client.get("/api/v1/settings", headers={"Authorization": f"Bearer {token}"})
    assert await resp.json() == {"account": "other-msp", "preferences": {"auto_open_boards": [7]}}
