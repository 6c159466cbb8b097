"""D5: pod sign-in limits. Only ConnectWise's refusals are counted, in the database (every
replica sees them), and they never keep a member with the right hash out; behind a trusted
reverse proxy the client's address comes from X-Forwarded-For."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import make_mocked_request

from plugin.features.pod.client_address import client_address
from plugin.features.pod.failures import ADDRESS, MEMBER, SignInLimits
from plugin.kernel.db import utcnow
from plugin.kernel.settings import SettingsError, load_settings
from providers.psa.simulator import DEMO_MEMBER, DEMO_MEMBER_HASH
from tests.helpers import db_of

SIGN_IN = "/api/v1/pod/session"
MEMBER_INFO = ("GET", "system/myMembers/info")
ATTACKER = "203.0.113.66"
MEMBER_ADDRESS = "198.51.100.7"


async def _sign_in(client, address: str, member_hash: str = DEMO_MEMBER_HASH, member=DEMO_MEMBER):
    return await client.post(
        SIGN_IN,
        json={"member_id": member, "member_hash": member_hash},
        headers={"X-Forwarded-For": address},
    )


@pytest.fixture
async def proxied_app(aiohttp_client, cw_settings):
    """A replica behind a reverse proxy on loopback (the test client's address)."""
    from plugin.app import create_app

    async def make():
        return await aiohttp_client(create_app(cw_settings(trusted_proxies=["127.0.0.1/32"])))

    return make


async def test_d5_the_right_hash_signs_in_after_five_bad_ones(proxied_app, cw_sim):
    client = await proxied_app()
    for _ in range(5):
        assert (await _sign_in(client, ATTACKER, "guess")).status == 401
    asked = cw_sim.requests.count(MEMBER_INFO)

    # The guesser is held back without another ConnectWise call...
    held = await _sign_in(client, ATTACKER, "guess-again")
    assert held.status == 429
    assert (await held.json())["error"]["code"] == "too_many_sign_in_failures"
    assert int(held.headers["Retry-After"]) > 0
    assert cw_sim.requests.count(MEMBER_INFO) == asked

    # ...while the member, whose hash is new to this replica, is verified and signed in.
    genuine = await _sign_in(client, MEMBER_ADDRESS)
    assert genuine.status == 200, await genuine.text()
    assert cw_sim.requests.count(MEMBER_INFO) == asked + 1

    # Operators see both kinds of refusal on /metrics.
    scraped = await (await client.get("/metrics")).text()
    assert 'fixpilot_signin_failures_total{reason="not_verified"} 5.0' in scraped
    assert 'fixpilot_signin_failures_total{reason="throttled_member"} 1.0' in scraped


async def test_d5_a_known_good_hash_is_never_throttled(proxied_app, cw_sim):
    client = await proxied_app()
    assert (await _sign_in(client, ATTACKER)).status == 200  # verified, now cached
    for index in range(20):
        await _sign_in(client, ATTACKER, "guess", member=f"member{index}")
    assert (await _sign_in(client, ATTACKER, "guess")).status == 429  # the address's limit
    assert (await _sign_in(client, ATTACKER)).status == 200


async def test_d5_two_replicas_on_one_database_share_the_count(proxied_app, cw_sim):
    first, second = await proxied_app(), await proxied_app()
    for _ in range(5):
        assert (await _sign_in(first, ATTACKER, "guess")).status == 401
    asked = cw_sim.requests.count(MEMBER_INFO)
    assert (await _sign_in(second, ATTACKER, "guess")).status == 429
    assert cw_sim.requests.count(MEMBER_INFO) == asked
    assert (await _sign_in(second, MEMBER_ADDRESS)).status == 200


async def test_d5_an_address_over_its_limit_is_refused_for_every_member(proxied_app, cw_sim):
    client = await proxied_app()
    for index in range(20):
        assert (await _sign_in(client, ATTACKER, "guess", member=f"m{index}")).status == 401
    asked = cw_sim.requests.count(MEMBER_INFO)
    assert (await _sign_in(client, ATTACKER, "guess", member="someone")).status == 429
    assert cw_sim.requests.count(MEMBER_INFO) == asked
    # Another address is not affected by it.
    assert (await _sign_in(client, "198.51.100.8", "guess", member="someone")).status == 401


async def test_d5_without_trusted_proxies_forwarded_for_is_ignored(cw_client, cw_sim):
    # Each request claims another address; without a trusted proxy the peer's counts.
    for index in range(20):
        resp = await _sign_in(cw_client, f"192.0.2.{index}", "guess", member=f"m{index}")
        assert resp.status == 401
    assert (await _sign_in(cw_client, "192.0.2.200", "guess", member="x")).status == 429


async def test_d5_failures_age_out_of_the_window(client):
    limits = SignInLimits(db_of(client), member_limit=2, address_limit=3)
    then = utcnow() - timedelta(seconds=301)
    for _ in range(3):
        await limits.record("1:jsmith", ATTACKER, now=then)
    assert (await limits.check("1:jsmith", ATTACKER, now=then)).reason == ADDRESS
    assert await limits.check("1:jsmith", ATTACKER) is None
    await limits.record("1:jsmith", ATTACKER)  # purges what is out of the window
    assert await limits.count(ADDRESS, ATTACKER, now=then) == 1
    await limits.record("1:jsmith", ATTACKER)
    refusal = await limits.check("1:jsmith", ATTACKER)
    assert refusal is not None and refusal.reason == MEMBER
    assert 1 <= refusal.wait_seconds <= 300
    assert await limits.check("1:jsmith", "198.51.100.9") is None  # a clean address


def _request(peer: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("POST", SIGN_IN, headers=headers)
    request._transport_peername = (peer, 5555)  # noqa: SLF001 - what aiohttp reads for .remote
    return request


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.2", "198.51.100.7", [], "10.0.0.2"),  # no proxy is trusted
        ("203.0.113.5", "198.51.100.7", ["10.0.0.0/8"], "203.0.113.5"),  # not via our proxy
        ("10.0.0.2", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        # The client's own X-Forwarded-For entries are to the left: ignored.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        # Two proxies of ours in a row.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),
        ("::1", "2001:DB8::1", ["::1/128"], "2001:db8::1"),
    ],
)
def test_d5_client_address_behind_trusted_proxies(peer, forwarded, trusted, expected):
    assert client_address(_request(peer, forwarded), trusted) == expected


def test_d5_trusted_proxies_setting(monkeypatch):
    monkeypatch.setenv("FIXPILOT_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    assert load_settings().trusted_proxies == ["10.0.0.0/8", "192.168.1.1"]
    monkeypatch.setenv("FIXPILOT_TRUSTED_PROXIES", '["fd00::/8"]')
    assert load_settings().trusted_proxies == ["fd00::/8"]
    monkeypatch.setenv("FIXPILOT_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(SettingsError, match="FIXPILOT_TRUSTED_PROXIES.*proxy.local"):
        load_settings()
    monkeypatch.delenv("FIXPILOT_TRUSTED_PROXIES")
    assert load_settings().trusted_proxies == []
