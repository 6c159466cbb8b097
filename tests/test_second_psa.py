"""A second PSA, added the way Autotask or HaloPSA would be: its own connection model and
provider, registered with the vendor registry from outside `plugin/`. Nothing in a feature
package names it, yet sessions, settings, resolve and escalate work with it, and the
capabilities it lacks (callbacks, the pod, set-up) are refused cleanly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from plugin.features.accounts.service import describe_account
from plugin.features.writeback.plain_text import markdown_to_plain
from plugin.kernel.appkeys import INSTANCE
from plugin.kernel.psa import set_psa_connection
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa import PSA_VENDORS, PSAVendor, Ticket, TicketStatus, register_psa_vendor
from tests.conftest import _token
from tests.fake_psa import FakePSA
from tests.helpers import db_of, new_session

NOTE = "## Problem\na\n\n## What we confirmed\nb\n\n## Root cause\nc\n\n## Resolution\nd\n"


class HaloConnection(BaseModel):
    """HaloPSA authenticates with OAuth2 client credentials, not a key pair."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    client_id: str
    client_secret: SecretStr


class HaloProvider(FakePSA):
    slug: str = "halo"


@pytest.fixture
def halo():
    provider = HaloProvider(
        slug="halo",
        tickets={
            900: Ticket(
                id=900,
                summary="Laptop won't dock",
                board_id=7,
                board_name="Field",
                status_id=70,
                status_name="Open",
            )
        },
        statuses={7: [TicketStatus(70, "Open", 7), TicketStatus(79, "Closed", 7, closed=True)]},
    )
    built: list[tuple[BaseModel, Mapping[str, Any]]] = []

    def factory(connection, options, session):
        built.append((connection, options))
        return provider

    register_psa_vendor(PSAVendor("halo", "HaloPSA", HaloConnection, factory))
    provider.built = built
    yield provider
    PSA_VENDORS.pop("halo")


@pytest.fixture
async def halo_client(client, halo):
    connection = HaloConnection(
        base_url="https://halo.example", client_id="fixpilot", client_secret="halo-secret-0001"
    )
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        set_psa_connection(account, "halo", connection, box=client.app[INSTANCE].box())
    return client


async def test_a_second_psa_resolves_and_escalates_through_the_same_features(halo_client, halo):
    admin = {"Authorization": f"Bearer {await _token(halo_client, 'admin')}"}
    engineer = {"Authorization": f"Bearer {await _token(halo_client, 'engineer')}"}

    bad = await halo_client.put(
        "/api/v1/settings",
        json={"preferences": {"board_overrides": {"7": {"resolved": 71}}}},
        headers=admin,
    )
    assert bad.status == 422
    assert "HaloPSA" in (await bad.json())["error"]["message"]
    ok = await halo_client.put(
        "/api/v1/settings",
        json={"preferences": {"board_overrides": {"7": {"resolved": 79}}}},
        headers=admin,
    )
    assert ok.status == 200, await ok.text()

    s = await new_session(halo_client, engineer, psa_ticket_id=900)
    assert s["ticket"]["board_name"] == "Field"
    resp = await halo_client.post(
        f"/api/v1/ai-sessions/{s['id']}/resolution-note/post",
        json={"markdown": NOTE},
        headers=engineer,
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["outcome"] == "resolved"
    assert body["status"] == {"id": 79, "name": "Closed", "verified": True}
    second = await new_session(halo_client, engineer, psa_ticket_id=900)
    escalated = await (
        await halo_client.post(
            f"/api/v1/ai-sessions/{second['id']}/escalation-package/post",
            json={"markdown": NOTE},
            headers=engineer,
        )
    ).json()
    assert escalated["outcome"] == "escalated" and escalated["status"] is None
    assert "board Field" in escalated["status_transition_skipped_reason"]
    plain = markdown_to_plain(NOTE.strip())  # the account's PSA does not render Markdown
    assert [(n.ticket_id, n.kind, n.text) for n in halo.notes] == [
        (900, "resolution", plain),
        (900, "internal", plain),
    ]
    connection, _ = halo.built[0]
    assert connection.client_secret.get_secret_value() == "halo-secret-0001"


async def test_what_the_second_psa_lacks_is_refused_not_probed(halo_client, halo):
    missing = await halo_client.get("/api/v1/admin/callback-events")
    assert missing.status == 401  # an admin route: it exists for every PSA
    webhook = await halo_client.post(
        "/webhooks/connectwise/default", data=b"{}", headers={"x-content-signature": "x"}
    )
    assert webhook.status == 404  # no callbacks capability: no such intake
    pod = await halo_client.post(
        "/api/v1/pod/session", json={"member_id": "jsmith", "member_hash": "h"}
    )
    assert pod.status == 409
    assert (await pod.json())["error"]["code"] == "psa_not_connected"
    page = await halo_client.get("/pod?account=default")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_the_second_psa_secret_is_masked(halo_client, halo):
    async with db_of(halo_client).read() as db:
        account = await get_account_by_slug(db, "default")
    # Stored sealed; shown masked (the mask's last characters need the instance secret).
    assert "halo-secret-0001" not in str(account.psa_config)
    assert describe_account(account)["psa_connection"]["client_secret"] == "****"
    shown = describe_account(account, halo_client.app[INSTANCE].box())
    assert shown["psa_provider"] == "halo"
    assert shown["psa_connection"]["client_secret"] == "****0001"
    assert "halo-secret-0001" not in str(shown)
