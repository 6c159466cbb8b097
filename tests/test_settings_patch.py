"""Settings for the operator's first hour: PATCH as a JSON merge patch beside PUT's full
replace, engineers reading settings and board statuses, and a session titled by its ticket."""

from __future__ import annotations

import asyncio
import json

from plugin.features.accounts import routes
from plugin.kernel.appkeys import DATABASE
from plugin.kernel.tenancy import Account

SETTINGS = "/api/v1/settings"
FULL = {
    "cw_resolved_status_id": 4,
    "cw_escalated_status_id": 5,
    "board_overrides": {"2": {"resolved": 14, "escalated": 15}},
    "auto_open_boards": [1],
}


async def _put(client, headers, preferences) -> None:
    resp = await client.put(SETTINGS, json={"preferences": preferences}, headers=headers)
    assert resp.status == 200, await resp.text()


async def _patch(client, headers, body, status=200) -> dict:
    resp = await client.patch(SETTINGS, json=body, headers=headers)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _stored(client, headers) -> dict:
    return (await (await client.get(SETTINGS, headers=headers)).json())["preferences"]


async def test_put_replaces_every_preference(client, admin_headers):
    await _put(client, admin_headers, FULL)
    await _put(client, admin_headers, {"cw_resolved_status_id": 7})

    assert await _stored(client, admin_headers) == {"cw_resolved_status_id": 7}


async def test_patch_changes_only_what_it_names(client, admin_headers):
    await _put(client, admin_headers, FULL)

    body = await _patch(client, admin_headers, {"preferences": {"cw_resolved_status_id": 7}})

    assert body == {"account": "default", "preferences": {**FULL, "cw_resolved_status_id": 7}}
    assert await _stored(client, admin_headers) == body["preferences"]


async def test_patch_follows_rfc_7396(client, admin_headers):
    await _put(client, admin_headers, FULL)

    # An object merges key by key; null removes a key; a list is replaced whole.
    patch = {
        "board_overrides": {"2": {"escalated": None}, "3": {"resolved": 4}},
        "cw_escalated_status_id": None,
        "auto_open_boards": [1, 2],
    }
    body = await _patch(client, admin_headers, {"preferences": patch})

    assert body["preferences"] == {
        "cw_resolved_status_id": 4,
        "board_overrides": {"2": {"resolved": 14}, "3": {"resolved": 4}},
        "auto_open_boards": [1, 2],
    }
    # An empty patch changes nothing; a null preferences removes them all.
    assert (await _patch(client, admin_headers, {}))["preferences"] == body["preferences"]
    assert (await _patch(client, admin_headers, {"preferences": None}))["preferences"] == {}


async def test_patch_takes_the_merge_patch_media_type(client, admin_headers):
    await _put(client, admin_headers, FULL)

    resp = await client.patch(
        SETTINGS,
        data=json.dumps({"preferences": {"auto_open_boards": None}}),
        headers={**admin_headers, "Content-Type": "application/merge-patch+json"},
    )

    assert resp.status == 200, await resp.text()
    assert "auto_open_boards" not in await _stored(client, admin_headers)


async def test_an_invalid_result_is_422_naming_the_field_and_stores_nothing(client, admin_headers):
    await _put(client, admin_headers, FULL)

    body = await _patch(
        client,
        admin_headers,
        {"preferences": {"nudge_after_minutes": 0, "colour": "blue"}},
        status=422,
    )

    assert {"nudge_after_minutes", "colour"} <= set(body["error"]["details"]["fields"])
    assert await _stored(client, admin_headers) == FULL
    bad = await _patch(client, admin_headers, {"preferences": [1]}, status=422)
    assert "preferences" in bad["error"]["details"]["fields"]


async def test_concurrent_patches_lose_nothing(client, admin_headers):
    await _put(client, admin_headers, FULL)
    patches = [
        {"preferences": {"cw_resolved_status_id": 7}},
        {"preferences": {"nudge_after_minutes": 30}},
        {"preferences": {"board_overrides": {"3": {"resolved": 4}}}},
        {"preferences": {"auto_open_boards": None}},
    ]

    answers = await asyncio.gather(
        *(client.patch(SETTINGS, json=patch, headers=admin_headers) for patch in patches)
    )

    assert [resp.status for resp in answers] == [200] * len(patches)
    assert await _stored(client, admin_headers) == {
        "cw_resolved_status_id": 7,
        "cw_escalated_status_id": 5,
        "board_overrides": {"2": {"resolved": 14, "escalated": 15}, "3": {"resolved": 4}},
        "nudge_after_minutes": 30,
    }


async def test_status_ids_changing_under_a_patch_every_time_is_409(
    client, admin_headers, monkeypatch
):
    await _put(client, admin_headers, FULL)
    validate = routes._validate
    changes = iter(range(100, 200))

    async def validate_while_another_admin_changes_them(req, account, preferences):
        await validate(req, account, preferences)
        async with client.app[DATABASE].write() as tx:  # lands before the patch is written
            stored = await tx.get(Account, account.id)
            stored.preferences = {**stored.preferences, "cw_resolved_status_id": next(changes)}

    monkeypatch.setattr(routes, "_validate", validate_while_another_admin_changes_them)

    body = await _patch(client, admin_headers, {"preferences": {"nudge_after_minutes": 9}}, 409)

    assert body["error"]["code"] == "settings_changed"
    assert "nudge_after_minutes" not in await _stored(client, admin_headers)


async def test_patch_checks_status_ids_against_the_psa(cw_client, cw_admin_headers):
    body = await _patch(
        cw_client,
        cw_admin_headers,
        {"preferences": {"board_overrides": {"2": {"resolved": 99}}}},
        status=422,
    )

    assert body["error"]["details"]["fields"] == {
        "board_overrides.2.resolved": "status 99 does not exist on board 2"
    }
    assert await _stored(cw_client, cw_admin_headers) == {}


async def test_engineers_read_settings_and_statuses_but_do_not_change_them(
    cw_client, cw_admin_headers, cw_engineer_headers
):
    await _put(cw_client, cw_admin_headers, FULL)

    assert await _stored(cw_client, cw_engineer_headers) == FULL
    statuses = await cw_client.get("/api/v1/psa/boards/1/statuses", headers=cw_engineer_headers)
    assert statuses.status == 200
    assert "Resolved" in [s["name"] for s in (await statuses.json())["items"]]
    for method in ("put", "patch"):
        resp = await getattr(cw_client, method)(
            SETTINGS, json={"preferences": {}}, headers=cw_engineer_headers
        )
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "admin_required"
    assert await _stored(cw_client, cw_admin_headers) == FULL


# --- a session titled by its ticket ----------------------------------------------------------


async def test_a_session_without_a_title_takes_the_tickets_summary(
    cw_client, cw_engineer_headers, cw_sim
):
    resp = await cw_client.post(
        "/api/v1/ai-sessions", json={"psa_ticket_id": 5001}, headers=cw_engineer_headers
    )

    assert resp.status == 201, await resp.text()
    assert (await resp.json())["title"] == cw_sim.tickets[5001]["summary"]


async def test_a_given_title_wins(cw_client, cw_engineer_headers):
    resp = await cw_client.post(
        "/api/v1/ai-sessions",
        json={"psa_ticket_id": 5001, "title": "Printer, again"},
        headers=cw_engineer_headers,
    )

    assert (await resp.json())["title"] == "Printer, again"


async def test_no_title_and_no_summary_is_422_naming_the_title(
    cw_client, cw_engineer_headers, cw_sim
):
    cases = [{}, {"title": None}, {"title": "   "}]
    for body in cases:
        resp = await cw_client.post("/api/v1/ai-sessions", json=body, headers=cw_engineer_headers)
        assert resp.status == 422, body
        assert "title" in (await resp.json())["error"]["details"]["fields"]

    cw_sim.faults.down = True  # the ticket's summary can't be read
    resp = await cw_client.post(
        "/api/v1/ai-sessions", json={"psa_ticket_id": 5001}, headers=cw_engineer_headers
    )
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["fields"] == {
        "title": "required: the ticket's summary could not be read"
    }
