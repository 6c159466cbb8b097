"""The writeback service against a fake PSA registered in the provider registry, for the
failure modes a simulator makes awkward: permission errors, unknown tickets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from providers.psa import (
    PSA_VENDORS,
    PSAPermissionError,
    Ticket,
    TicketStatus,
    register_psa_vendor,
)
from tests.fake_psa import FakePSA
from tests.helpers import new_session

NOTE = "## Problem\na\n\n## What we confirmed\nb\n\n## Root cause\nc\n\n## Resolution\nd\n"


@pytest.fixture
def fake_psa():
    fake = FakePSA(
        tickets={
            42: Ticket(
                id=42,
                summary="VPN drops",
                board_id=3,
                board_name="NOC",
                status_id=30,
                status_name="New",
            )
        },
        statuses={3: [TicketStatus(30, "New", 3), TicketStatus(31, "Resolved", 3, closed=True)]},
    )
    real = PSA_VENDORS["connectwise"]
    register_psa_vendor(replace(real, factory=lambda connection, options, session: fake))
    yield fake
    register_psa_vendor(real)


@pytest.fixture
async def fake_client(aiohttp_client, make_settings, fake_psa):
    from pydantic import SecretStr

    from plugin.app import create_app

    settings = make_settings(
        cw_url="https://api-eu.example.com/v4_6_release/apis/3.0/",
        cw_company_id="acme",
        cw_public_key="pub",
        cw_private_key=SecretStr("priv"),
        cw_client_id="client",
    )
    return await aiohttp_client(create_app(settings))


async def _headers(client, role):
    from tests.conftest import _token

    return {"Authorization": f"Bearer {await _token(client, role)}"}


async def test_the_registered_fake_is_used_for_a_verified_resolve(fake_client, fake_psa):
    admin, engineer = await _headers(fake_client, "admin"), await _headers(fake_client, "engineer")
    resp = await fake_client.put(
        "/api/v1/settings", json={"preferences": {"cw_resolved_status_id": 31}}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    s = await new_session(fake_client, engineer, psa_ticket_id=42)
    assert s["ticket"]["board_name"] == "NOC"
    body = await (
        await fake_client.post(
            f"/api/v1/ai-sessions/{s['id']}/resolution-note/post",
            json={"markdown": NOTE},
            headers=engineer,
        )
    ).json()
    assert body["outcome"] == "resolved" and body["status"] == {
        "id": 31,
        "name": "Resolved",
        "verified": True,
    }
    assert [
        name for name, _ in fake_psa.calls if name in ("add_note", "set_status", "verify_status")
    ] == ["add_note", "set_status", "verify_status"]


async def test_permission_error_is_502_and_kept_for_retry(fake_client, fake_psa):
    engineer = await _headers(fake_client, "engineer")
    s = await new_session(fake_client, engineer, psa_ticket_id=42)
    fake_psa.fail_with["add_note"] = PSAPermissionError(
        "The API member may not add notes", status=403
    )
    resp = await fake_client.post(
        f"/api/v1/ai-sessions/{s['id']}/escalation-package/post",
        json={"markdown": NOTE},
        headers=engineer,
    )
    assert resp.status == 502
    assert "may not add notes" in (await resp.json())["error"]["message"]
    session = await (
        await fake_client.get(f"/api/v1/ai-sessions/{s['id']}", headers=engineer)
    ).json()
    assert session["status"] == "active"
    assert session["latest_writeback"]["state"] == "failed"
    del fake_psa.fail_with["add_note"]
    body = await (
        await fake_client.post(
            f"/api/v1/ai-sessions/{s['id']}/escalation-package/post",
            json={"markdown": NOTE},
            headers=engineer,
        )
    ).json()
    assert body["outcome"] == "escalated" and len(fake_psa.notes) == 1
