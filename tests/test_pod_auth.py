"""The pod's server side: member sign-in against the ConnectWise simulator, the page and its
CSP, the static files, and the simulated ticket screen that hosts the pod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select, update

from plugin.features.accounts.models import ApiToken
from plugin.kernel.ai_sessions import AISession
from providers.psa.connectwise.hosted_pod import connectwise_origins
from providers.psa.simulator import DEMO_MEMBER, DEMO_MEMBER_HASH
from tests.helpers import db_of

SIGN_IN = "/api/v1/pod/session"
MEMBER_INFO = ("GET", "system/myMembers/info")


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


async def _sign_in(client, **body):
    payload = {"member_id": DEMO_MEMBER, "member_hash": DEMO_MEMBER_HASH, **body}
    return await client.post(SIGN_IN, json=payload)


async def test_verified_member_gets_a_short_lived_engineer_token(cw_client, cw_sim):
    # The browser's company is ignored: verification uses the account's company, so a
    # forged companyid neither helps nor hurts.
    resp = await _sign_in(cw_client, companyid="someone_else", memberEmail="evil@example.com")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["account"] == "default"
    assert body["member"] == {"id": "jsmith", "name": "John Smith", "email": "jsmith@msp.example"}
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    lifetime = expires_at - datetime.now(UTC)
    assert timedelta(hours=7) < lifetime <= timedelta(hours=8)

    headers = {"Authorization": f"Bearer {body['token']}"}
    listed = await cw_client.get("/api/v1/ai-sessions", headers=headers)
    assert listed.status == 200
    settings = await cw_client.put("/api/v1/settings", json={"preferences": {}}, headers=headers)
    assert settings.status == 403
    assert (await settings.json())["error"]["code"] == "admin_required"

    async with db_of(cw_client).read() as session:
        row = (await session.execute(select(ApiToken).where(ApiToken.kind == "pod"))).scalar_one()
    assert (row.role, row.member_id) == ("engineer", "jsmith")
    assert body["token"] not in (row.token_hash, row.token_prefix)


async def test_sessions_opened_by_a_member_are_attributed_to_them(cw_client):
    token = (await (await _sign_in(cw_client)).json())["token"]
    resp = await cw_client.post(
        "/api/v1/ai-sessions",
        json={"title": "Ticket #5001", "psa_ticket_id": 5001},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["ticket"]["summary"].startswith("Front desk printer")
    async with db_of(cw_client).read() as session:
        created_by = (
            await session.execute(select(AISession.created_by).where(AISession.id == body["id"]))
        ).scalar_one()
    assert created_by == "jsmith"


async def test_bad_member_hash_is_401_and_issues_nothing(cw_client):
    resp = await _sign_in(cw_client, member_hash="not-the-hash")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "member_not_verified"
    async with db_of(cw_client).read() as session:
        assert (await session.execute(select(ApiToken))).first() is None


async def test_unknown_member_is_401(cw_client):
    resp = await _sign_in(cw_client, member_id="nobody")
    assert resp.status == 401


async def test_expired_pod_token_is_refused(cw_client):
    token = (await (await _sign_in(cw_client)).json())["token"]
    async with db_of(cw_client).write() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.kind == "pod")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    resp = await cw_client.get("/api/v1/ai-sessions", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "token_expired"


async def test_verification_is_cached_per_member_and_hash(cw_client, cw_sim):
    first = await _sign_in(cw_client)
    second = await _sign_in(cw_client)
    assert first.status == second.status == 200
    assert (await first.json())["token"] != (await second.json())["token"]
    assert cw_sim.requests.count(MEMBER_INFO) == 1

    # A different hash is not answered from the cache.
    wrong = await _sign_in(cw_client, member_hash="guess")
    assert wrong.status == 401
    assert cw_sim.requests.count(MEMBER_INFO) == 2


async def test_connectwise_down_is_503(cw_client, cw_sim):
    cw_sim.faults.down = True
    resp = await _sign_in(cw_client)
    assert resp.status == 503
    body = await resp.json()
    assert body["error"]["code"] == "psa_unavailable"
    assert resp.headers["Retry-After"]
    cw_sim.faults.down = False
    assert (await _sign_in(cw_client)).status == 200  # a failure is not cached


async def test_repeated_failures_are_throttled(cw_client, cw_sim):
    for _ in range(5):
        assert (await _sign_in(cw_client, member_hash="guess")).status == 401
    asked = cw_sim.requests.count(MEMBER_INFO)
    # The address that failed may not guess again (ConnectWise is not asked); a member on
    # another address is not held back (tests/test_signin_limits.py).
    resp = await _sign_in(cw_client, member_hash="guess-again")
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert cw_sim.requests.count(MEMBER_INFO) == asked


async def test_sign_in_validation_names_the_fields(cw_client):
    resp = await cw_client.post(SIGN_IN, json={"member_id": "  "})
    assert resp.status == 422
    fields = (await resp.json())["error"]["details"]["fields"]
    assert set(fields) == {"member_id", "member_hash"}


async def test_unknown_account_is_404(cw_client):
    resp = await _sign_in(cw_client, account="nope")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "account_not_found"


async def test_pod_page_reveals_neither_the_account_nor_its_host(cw_client, cw_sim):
    """To a window that is not the account's ConnectWise, an existing account's pod looks
    like an unknown account's: same status, same policy, no ConnectWise host."""
    host = cw_sim.site_url.split("//", 1)[1]

    async def page(account: str, **headers: str) -> tuple[int, str, str]:
        resp = await cw_client.get(f"/pod?id=5001&screen=ticket&account={account}", headers=headers)
        text = (await resp.text()).replace(f'content="{account}"', 'content="ACCOUNT"')
        return resp.status, resp.headers["Content-Security-Policy"], text

    unknown = await page("nope")
    known = await page("default")
    elsewhere = await page("default", Referer="https://evil.example/ticket")
    unknown_framed = await page("nope", Referer=cw_sim.site_url + "/ticket")
    assert unknown == known == elsewhere == unknown_framed
    status, policy, text = known
    assert status == 200 and _csp(policy)["frame-ancestors"] == ["'none'"]
    assert host not in policy and host not in text
    # A page asking about the embedding origin learns only what it already names.
    guessed = await cw_client.get("/pod?account=default&embed=https://guess.example")
    assert _csp(guessed.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


async def test_account_without_connectwise_cannot_sign_in(client):
    resp = await _sign_in(client)
    assert resp.status == 409
    body = await resp.json()
    assert body["error"]["code"] == "psa_not_connected"
    assert "ConnectWise" in body["error"]["message"]
    page = await client.get("/pod?id=1")
    assert _csp(page.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


async def test_pod_page_is_framable_only_by_the_connectwise_origin(cw_client, cw_sim):
    # The screen that frames the pod names itself in the Referer (the browser's default
    # policy sends a cross-origin frame its parent's origin).
    resp = await cw_client.get(
        "/pod?id=5001&screen=ticket", headers={"Referer": cw_sim.site_url + "/_sim/ticket/5001"}
    )
    assert resp.status == 200
    assert resp.content_type == "text/html"
    csp = _csp(resp.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == [cw_sim.site_url]
    for directive in ("script-src", "style-src", "connect-src"):
        assert csp[directive] == ["'self'"]
    assert csp["default-src"] == ["'none'"]
    assert "X-Frame-Options" not in resp.headers
    page = await resp.text()
    assert f'<meta name="fixpilot-cw-origins" content="{cw_sim.site_url}">' in page
    assert "<script>" not in page and "style=" not in page


async def test_pod_static_files_only(cw_client):
    js = await cw_client.get("/pod/static/pod.js")
    assert js.status == 200
    assert js.content_type == "text/javascript"
    css = await cw_client.get("/pod/static/pod.css")
    assert css.content_type == "text/css"
    for path in (
        "/pod/static/..%2Froutes.py",
        "/pod/static/%2e%2e%2fsignin.py",
        "/pod/static/../routes.py",
        "/pod/static/.hidden.js",
        "/pod/static/index.html",
        "/pod/static/missing.js",
        "/pod/static/routes.py",
    ):
        resp = await cw_client.get(path)
        assert resp.status == 404, path


def test_cloud_accounts_allow_the_screens_host_too():
    cloud = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"
    assert connectwise_origins(cloud) == [
        "https://api-na.myconnectwise.net",
        "https://na.myconnectwise.net",
    ]
    on_prem = "https://cw.example.com:8443/v4_6_release/apis/3.0/"
    assert connectwise_origins(on_prem) == ["https://cw.example.com:8443"]
    assert connectwise_origins("https://cw.example.com:443/x") == ["https://cw.example.com"]
    assert connectwise_origins(None) == []


# --- the simulated ConnectWise ticket screen -------------------------------------------------


async def test_simulated_screen_frames_the_pod(cw_sim):
    pod = "http://127.0.0.1:9/pod?id=[cw_id]&screen=[cw_screen]"
    async with aiohttp.ClientSession() as http:
        url = cw_sim.server.make_url("/_sim/ticket/5001").with_query(pod=pod, member="jsmith")
        async with http.get(url) as resp:
            assert resp.status == 200
            page = await resp.text()
            csp = _csp(resp.headers["Content-Security-Policy"])
        assert csp["frame-src"] == ["http://127.0.0.1:9"]
        assert 'data-pod-url="http://127.0.0.1:9/pod?id=5001&amp;screen=ticket"' in page

        data_url = cw_sim.server.make_url("/_sim/ticket/5001/screen-data?member=jsmith")
        async with http.get(data_url) as resp:
            data = await resp.json()
        assert data["auth"]["memberid"] == "jsmith"
        assert data["auth"]["memberHash"] == DEMO_MEMBER_HASH
        assert data["auth"]["companyid"] == cw_sim.company_id
        assert data["ticket"]["status"] == "New"

        bad = cw_sim.server.make_url("/_sim/ticket/5001").with_query(pod="javascript:alert(1)")
        async with http.get(bad) as resp:
            assert resp.status == 400
        async with http.get(cw_sim.server.make_url("/_sim/ticket/1?pod=" + pod)) as resp:
            assert resp.status == 404
        async with http.get(cw_sim.server.make_url("/_sim/static/app.py")) as resp:
            assert resp.status == 404
