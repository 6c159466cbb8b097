"""POST /webhooks/connectwise/{account}: signatures, key URLs, dedupe, answers, and real
signed deliveries from the ConnectWise simulator."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from aiohttp import web
from sqlalchemy.exc import OperationalError

from plugin.features.callbacks.keys import SigningKeyCache
from plugin.features.callbacks.models import PSACallbackEvent
from providers.psa.connectwise import compute_signature, verify_signature
from tests.callback_helpers import (
    WEBHOOK,
    count,
    deliver,
    events,
    fixture_body,
    get_session,
    link_session,
    services_of,
    signature_headers,
    wait_until_processed,
)

# Key fetches at the simulator: fixture bodies point at its first key path, the bodies it
# sends itself at ConnectWise's own key URL.
SIGNING_KEY_GETS = {
    ("GET", "system/callbacks/signingkey"),
    ("GET", "system/callbackkey/index.rails"),
}
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Unauthorized.", "details": {}}}


def key_fetches(cw_sim) -> int:
    return sum(1 for request in cw_sim.requests if request in SIGNING_KEY_GETS)


async def test_valid_signature_is_stored_and_answered_202(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    resp = await deliver(cw_client, raw, cw_sim.signing_key)

    assert resp.status == 202
    body = await resp.json()
    assert body["status"] == "accepted"
    (event,) = await events(services_of(cw_client).db)
    assert body["event_id"] == event.id
    assert (event.record_id, event.event_type, event.action) == (5002, "ticket", "updated")
    assert event.dedupe_key == "8d1c2e4f-0b7a-4f3e-8c21-5a9e6d4b7c02"  # the MessageId
    assert event.payload["entity"]["status"]["id"] == 3  # Entity stored decoded
    assert key_fetches(cw_sim) == 1


async def test_wrong_signature_is_401_without_detail(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    resp = await deliver(cw_client, raw, "not-the-signing-key")

    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED
    assert await count(services_of(cw_client).db, PSACallbackEvent) == 0


async def test_body_changed_after_signing_is_401(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)
    headers = signature_headers(raw, cw_sim.signing_key)

    resp = await cw_client.post(WEBHOOK, data=raw.replace(b"5002", b"5003"), headers=headers)

    assert resp.status == 401


async def test_missing_signature_is_401(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    resp = await deliver(cw_client, raw, None)

    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED
    assert key_fetches(cw_sim) == 0


async def test_key_url_on_a_foreign_host_is_401_and_never_fetched(
    cw_client, cw_sim, aiohttp_server
):
    foreign_requests: list[str] = []

    async def attacker_key(request: web.Request) -> web.Response:
        foreign_requests.append(request.path_qs)
        return web.json_response({"signing_key": "attacker-key"})

    foreign = web.Application()
    foreign.router.add_get("/{tail:.*}", attacker_key)
    server = await aiohttp_server(foreign)
    foreign_origin = str(server.make_url("")).rstrip("/")
    assert foreign_origin != cw_sim.site_url  # same host, another port
    raw = fixture_body("ticket__updated", cw_sim.site_url)
    body = json.loads(raw)
    body["Metadata"]["key_url"] = body["Metadata"]["key_url"].replace(
        cw_sim.site_url, foreign_origin
    )
    raw = json.dumps(body).encode()

    resp = await deliver(cw_client, raw, "attacker-key")

    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED
    assert foreign_requests == []
    assert key_fetches(cw_sim) == 0
    assert await count(services_of(cw_client).db, PSACallbackEvent) == 0


async def test_rotated_key_is_accepted_after_one_refetch(cw_client, cw_sim):
    first = fixture_body("ticket__updated", cw_sim.site_url)
    assert (await deliver(cw_client, first, cw_sim.signing_key)).status == 202
    cached = await deliver(
        cw_client, fixture_body("ticket__merged", cw_sim.site_url), cw_sim.signing_key
    )
    assert cached.status == 202
    assert key_fetches(cw_sim) == 1  # the second delivery used the cached key

    cw_sim.signing_keys[1] = "rotated-signing-key-0002"  # same key URL, new key
    rotated = fixture_body("ticket__closed_outside", cw_sim.site_url)
    resp = await deliver(cw_client, rotated, "rotated-signing-key-0002")

    assert resp.status == 202
    assert key_fetches(cw_sim) == 2

    # A forged signature right after does not make Fixpilot ask ConnectWise again.
    forged = fixture_body("ticket__moved_board", cw_sim.site_url)
    assert (await deliver(cw_client, forged, "forged-key")).status == 401
    assert key_fetches(cw_sim) == 2
    fetched = services_of(cw_client).metrics.registry.get_sample_value(
        "fixpilot_signing_key_fetches_total", {"result": "ok"}
    )
    assert fetched == 2  # what operators see on /metrics


@pytest.mark.parametrize("fixture", ["ticket__updated", "ticket__type_capitalised"])
async def test_same_delivery_three_times_is_one_event_processed_once(cw_client, cw_sim, fixture):
    services = services_of(cw_client)
    ticket_id = json.loads(fixture_body(fixture, cw_sim.site_url))["ID"]
    session_id = await link_session(services.db, cw_sim.tickets[ticket_id])
    raw = fixture_body(fixture, cw_sim.site_url)  # type_capitalised has no MessageId

    answers = [await deliver(cw_client, raw, cw_sim.signing_key) for _ in range(3)]

    assert [r.status for r in answers] == [202, 200, 200]
    assert [(await r.json())["status"] for r in answers] == ["accepted", "duplicate", "duplicate"]
    (event,) = await wait_until_processed(services.db)
    assert (event.status, event.attempts) == ("done", 1)
    done = services.metrics.registry.get_sample_value(
        "fixpilot_background_items_total", {"worker": "callbacks", "result": "done"}
    )
    assert done == 1

    assert (await get_session(services.db, session_id)).state_version == 2  # bumped once


async def test_store_failure_answers_429_and_the_retry_is_stored(cw_client, cw_sim, monkeypatch):
    db = services_of(cw_client).db
    real_insert = db.hot_writes.insert_or_ignore
    failures = []

    async def failing_insert(insert, rows):
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await real_insert(insert, rows)

    monkeypatch.setattr(db.hot_writes, "insert_or_ignore", failing_insert)
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    first = await deliver(cw_client, raw, cw_sim.signing_key)
    assert first.status == 429
    assert first.headers["Retry-After"]
    assert await count(db, PSACallbackEvent) == 0

    retried = await deliver(cw_client, raw, cw_sim.signing_key)
    assert retried.status == 202
    assert len(await events(db)) == 1


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"ID": 5002, "Type": "ticket"}', b'{"Action": "updated"}'],
    ids=["not-json", "not-object", "no-action", "no-type"],
)
async def test_malformed_body_is_400(cw_client, cw_sim, raw):
    resp = await deliver(cw_client, raw, cw_sim.signing_key)

    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_callback"


@pytest.mark.parametrize("change", [{"ID": None}, {"Action": "archived"}])
async def test_authentic_ticket_callback_fixpilot_cannot_use_is_acknowledged(
    cw_client, cw_sim, change
):
    body = json.loads(fixture_body("ticket__deleted", cw_sim.site_url))
    body.update(change)
    raw = json.dumps(body).encode()

    resp = await deliver(cw_client, raw, cw_sim.signing_key)

    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    assert await count(services_of(cw_client).db, PSACallbackEvent) == 0


async def test_unknown_account_is_404(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    resp = await deliver(cw_client, raw, cw_sim.signing_key, path="/webhooks/connectwise/nope")

    assert resp.status == 404
    assert key_fetches(cw_sim) == 0


async def test_signed_deliveries_from_the_simulator_are_stored_and_processed(cw_client, cw_sim):
    """ConnectWise's own way in: a registered callback, a technician's change, a signed POST
    with the record id appended to the URL; a rotated key arrives under a new key URL."""
    services = services_of(cw_client)
    session_id = await link_session(services.db, cw_sim.tickets[5004])
    cw_sim.emit_callbacks = True
    cw_sim.add_callback(
        {
            "url": str(cw_client.make_url(WEBHOOK)) + "?recordId=",
            "type": "Ticket",
            "level": "Owner",
            "objectId": 1,
        }
    )

    cw_sim.close_ticket(5004)
    await cw_sim.drain_callbacks()
    cw_sim.rotate_signing_key()
    cw_sim.human_update(5011, status_id=2)
    await cw_sim.drain_callbacks()

    assert [(d.record_id, d.status) for d in cw_sim.deliveries] == [(5004, 202), (5011, 202)]
    assert cw_sim.deliveries[0].url.endswith("?recordId=5004")
    assert key_fetches(cw_sim) == 2  # one per key URL
    rows = await wait_until_processed(services.db, 2)
    assert [(e.record_id, e.status) for e in rows] == [(5004, "done"), (5011, "done")]

    assert (await get_session(services.db, session_id)).ticket_state == "closed_outside"


async def test_unreachable_signing_key_answers_429_so_connectwise_retries(cw_client, cw_sim):
    raw = fixture_body("ticket__updated", cw_sim.site_url)
    cw_sim.faults.down = True

    resp = await deliver(cw_client, raw, cw_sim.signing_key)

    assert resp.status == 429
    cw_sim.faults.down = False
    assert (await deliver(cw_client, raw, cw_sim.signing_key)).status == 202


# --- the key cache on its own ----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_server(keys: dict[str, str]):
    """A fetcher over `keys` (URL → current key) that records what it was asked."""
    asked: list[str] = []

    async def fetch(url: str) -> str:
        asked.append(url)
        await asyncio.sleep(0)
        return keys[url]

    return fetch, asked


async def test_key_cache_shares_one_fetch_between_concurrent_misses():
    cache = SigningKeyCache()
    fetch, asked = key_server({"u": "k1"})
    raw = b"{}"

    results = await asyncio.gather(
        *(
            cache.verify(1, "u", raw, compute_signature(raw, "k1"), fetch, verify_signature)
            for _ in range(10)
        )
    )

    assert results == [True] * 10
    assert asked == ["u"]


async def test_key_cache_refetches_once_per_interval_and_per_url_only():
    clock = FakeClock()
    cache = SigningKeyCache(refetch_interval=10, clock=clock)
    keys = {"u": "k1"}
    fetch, asked = key_server(keys)
    raw = b"{}"

    def signed(key: str) -> str:
        return compute_signature(raw, key)

    assert await cache.verify(1, "u", raw, signed("k1"), fetch, verify_signature)
    assert await cache.verify(1, "u", raw, signed("k1"), fetch, verify_signature)
    assert asked == ["u"]  # a verified key is reused

    keys["u"] = "k2"  # rotated
    assert await cache.verify(1, "u", raw, signed("k2"), fetch, verify_signature)
    forged = signed("forged")
    for _ in range(50):  # within the interval: no more fetches of u
        assert not await cache.verify(1, "u", raw, forged, fetch, verify_signature)
    assert len(asked) == 2
    clock.now += 11
    assert not await cache.verify(1, "u", raw, forged, fetch, verify_signature)
    assert len(asked) == 3  # one more try after the interval

    # u's fetches spend nothing of any other URL's: v is fetched at once.
    keys.update(v="k3")
    assert await cache.verify(1, "v", raw, signed("k3"), fetch, verify_signature)
    assert len(asked) == 4


async def test_key_cache_does_not_ask_again_for_a_missing_key_within_the_interval():
    clock = FakeClock()
    cache = SigningKeyCache(refetch_interval=10, clock=clock)
    fetch, asked = key_server({})  # every URL: KeyError, a permanent failure
    raw = b"{}"
    with pytest.raises(KeyError):
        await cache.verify(1, "gone", raw, compute_signature(raw, "x"), fetch, verify_signature)
    assert not await cache.verify(
        1, "gone", raw, compute_signature(raw, "x"), fetch, verify_signature
    )
    assert asked == ["gone"]


# --- D1: forged traffic must not starve genuine callbacks -------------------------------------


def forged_body(site_url: str, key_id: int | None) -> bytes:
    """A body naming the genuine callbacks' key URL (None) or a made-up one on the host."""
    body = json.loads(fixture_body("ticket__updated", site_url))
    body["MessageId"] = str(uuid.uuid4())
    if key_id is not None:
        body["Metadata"]["key_url"] = (
            f"{site_url}/v4_6_release/apis/3.0/system/callbacks/signingkey?keyId={key_id}"
        )
    return json.dumps(body).encode()


@pytest.mark.parametrize("key_urls", ["same", "varied"])
async def test_d1_forged_bodies_cannot_starve_genuine_callbacks(cw_client, cw_sim, key_urls):
    for i in range(100):
        raw = forged_body(cw_sim.site_url, None if key_urls == "same" else 1000 + i)
        # A well-formed signature (base64 of 32 bytes) made with a key the forger made up.
        assert (await deliver(cw_client, raw, "forger-key")).status == 401

    genuine = fixture_body("ticket__updated", cw_sim.site_url)
    resp = await deliver(cw_client, genuine, cw_sim.signing_key)

    assert resp.status == 202
    # Each key URL was asked at most once: the real one (cached after the first forged body
    # named it, or fetched for the genuine one), and each made-up one once.
    assert key_fetches(cw_sim) <= (2 if key_urls == "same" else 101)
    assert len(await events(services_of(cw_client).db)) == 1


@pytest.mark.parametrize(
    "signature", ["junk", "x" * 44, "A" * 43 + "=" + "A", compute_signature(b"", "k") + "AAAA"]
)
async def test_d1_signature_of_the_wrong_shape_costs_no_key_fetch(cw_client, cw_sim, signature):
    raw = fixture_body("ticket__updated", cw_sim.site_url)

    resp = await cw_client.post(
        WEBHOOK,
        data=raw,
        headers={"Content-Type": "application/json", "x-content-signature": signature},
    )

    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED
    assert key_fetches(cw_sim) == 0


# --- D7: junk in the account slug -------------------------------------------------------------


@pytest.mark.parametrize("slug", ["de%00fault", "%00", "a%01b", "x" * 65, "tab%09here"])
async def test_d7_junk_account_slug_is_404_json_without_traceback(cw_client, cw_sim, slug, caplog):
    raw = fixture_body("ticket__updated", cw_sim.site_url)
    caplog.set_level(logging.DEBUG)

    resp = await deliver(cw_client, raw, cw_sim.signing_key, path=f"/webhooks/connectwise/{slug}")

    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
    assert key_fetches(cw_sim) == 0
