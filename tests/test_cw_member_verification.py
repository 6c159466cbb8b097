"""Verifying a pod's member with ConnectWise: the Hosted API's cookies (with memberContext)
first, Basic `company+member:hash` second; the real `MyMemberInfo` shape; what is logged."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from providers.psa.base import PSAAuthError
from providers.psa.connectwise import ConnectWiseProvider
from providers.psa.simulator import DEMO_MEMBER, DEMO_MEMBER_CONTEXT, DEMO_MEMBER_HASH
from tests.test_cw_client import BASE, calls, compat_aioresponses, make_config

INFO_URL = f"{BASE}system/myMembers/info"
SHAPES = Path(__file__).parent / "fixtures" / "connectwise" / "real_shapes"
# ConnectWise's MyMemberInfo (pyconnectwise's model, generated from ConnectWise's schema).
MY_MEMBER_INFO = json.loads((SHAPES / "my_member_info__pyconnectwise_model.json").read_text())
HASH = "hash-6b2f+9d0e/=="  # a hash as the Hosted API hands it: base64-ish characters
CONTEXT = "ctx-41c8a7d2"
SIGN_IN = "/api/v1/pod/session"


@pytest.fixture
def http():
    with compat_aioresponses() as mocked:
        yield mocked


@pytest.fixture
async def cw():
    provider = ConnectWiseProvider(make_config())
    yield provider
    await provider.aclose()


def headers_of(http, index: int) -> dict[str, str]:
    return calls(http, "GET", INFO_URL)[index].kwargs["headers"]


def basic(member: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"acme+{member}:{secret}".encode()).decode()


async def test_the_real_member_info_shape_gives_name_and_email(cw, http):
    assert "name" not in MY_MEMBER_INFO and "officeEmail" not in MY_MEMBER_INFO
    http.get(INFO_URL, payload=MY_MEMBER_INFO)

    identity = await cw.pod.verify_member("jsmith", HASH, CONTEXT)

    assert (identity.member_id, identity.name, identity.email) == (
        "jsmith",
        "John Smith",
        "jsmith@example.com",
    )


async def test_cookies_with_the_member_context_come_first(cw, http, caplog):
    http.get(INFO_URL, payload=MY_MEMBER_INFO)
    caplog.set_level(logging.INFO, logger="providers.psa.connectwise.hosted_pod")

    identity = await cw.pod.verify_member("jsmith", HASH, CONTEXT)

    assert identity.verified_by == "cookie"
    (call,) = calls(http, "GET", INFO_URL)
    headers = call.kwargs["headers"]
    assert "Authorization" not in headers  # not the API member's, nor the member's Basic
    assert headers["Cookie"] == (
        f"companyName=acme; memberId=jsmith; memberHash={HASH}; memberContext={CONTEXT}"
    )
    assert headers["clientId"] == make_config().client_id
    logged = caplog.text
    assert "jsmith verified by cookie authentication" in logged
    assert HASH not in logged and CONTEXT not in logged


async def test_basic_follows_when_the_cookies_are_refused(cw, http, caplog):
    http.get(INFO_URL, status=401, payload={"code": "Unauthorized", "message": "no"})
    http.get(INFO_URL, payload=MY_MEMBER_INFO)
    caplog.set_level(logging.INFO, logger="providers.psa.connectwise.hosted_pod")

    identity = await cw.pod.verify_member("jsmith", HASH, CONTEXT)

    assert identity.verified_by == "basic"
    assert "Cookie" in headers_of(http, 0)
    assert headers_of(http, 1)["Authorization"] == basic("jsmith", HASH)
    assert "Cookie" not in headers_of(http, 1)
    assert "cookie authentication refused (401)" in caplog.text
    assert "jsmith verified by basic authentication" in caplog.text
    assert HASH not in caplog.text and CONTEXT not in caplog.text


async def test_cookies_vouching_for_someone_else_fall_back_to_basic(cw, http):
    http.get(INFO_URL, payload={**MY_MEMBER_INFO, "identifier": "fixpilot_api"})
    http.get(INFO_URL, payload=MY_MEMBER_INFO)

    assert (await cw.pod.verify_member("jsmith", HASH, CONTEXT)).verified_by == "basic"


@pytest.mark.parametrize("context", [None, "", "has space", "semi;colon", 'quo"te'])
async def test_without_a_usable_context_only_basic_is_tried(cw, http, context):
    http.get(INFO_URL, payload=MY_MEMBER_INFO)

    identity = await cw.pod.verify_member("jsmith", HASH, context)

    assert identity.verified_by == "basic"
    (call,) = calls(http, "GET", INFO_URL)
    assert call.kwargs["headers"]["Authorization"] == basic("jsmith", HASH)
    assert "Cookie" not in call.kwargs["headers"]


async def test_both_refused_is_an_auth_error(cw, http):
    http.get(INFO_URL, status=401, payload={"code": "Unauthorized", "message": "no"})
    http.get(INFO_URL, status=401, payload={"code": "Unauthorized", "message": "no"})

    with pytest.raises(PSAAuthError):
        await cw.pod.verify_member("jsmith", HASH, CONTEXT)
    assert len(calls(http, "GET", INFO_URL)) == 2


# --- through the pod's sign-in, against the simulator ---------------------------------------


async def _sign_in(client, **body):
    payload = {"member_id": DEMO_MEMBER, "member_hash": DEMO_MEMBER_HASH, **body}
    return await client.post(SIGN_IN, json=payload)


async def test_a_site_that_insists_on_cookies_signs_the_member_in(cw_client, cw_sim):
    cw_sim.member_hash_over_basic = False  # the member hash alone is refused over Basic

    refused = await _sign_in(cw_client)
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "member_not_verified"

    resp = await _sign_in(cw_client, memberContext=DEMO_MEMBER_CONTEXT)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["member"]["name"] == "John Smith"


async def test_a_stale_context_still_signs_in_with_basic(cw_client, cw_sim):
    resp = await _sign_in(cw_client, memberContext="someone-elses-context")

    assert resp.status == 200, await resp.text()
    info_calls = [r for r in cw_sim.requests if r == ("GET", "system/myMembers/info")]
    assert len(info_calls) == 2  # the cookies were refused, Basic answered
