"""Pure ConnectWise callback functions, against the fixture bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from providers.psa.connectwise import (
    CallbackEnvelope,
    CallbackParseError,
    compute_signature,
    dedupe_key,
    key_url_allowed,
    parse_callback,
    signing_key_digest,
    verify_signature,
)
from providers.psa.simulator import SimulatorState

FIXTURES = Path(__file__).parent / "fixtures" / "connectwise"
KEY_URL = "http://cw.test/v4_6_release/apis/3.0/system/callbacks/signingkey?keyId=1"
API_URL = "http://cw.test/v4_6_release/apis/3.0/"


def load(name: str) -> tuple[bytes, CallbackEnvelope]:
    raw = (FIXTURES / name).read_bytes()
    return raw, parse_callback(raw)


# --- one test per fixture -------------------------------------------------------------------


def test_ticket__added():
    _, env = load("ticket__added.json")
    assert (env.record_id, env.action, env.type) == (5012, "added", "ticket")
    assert env.entity["summary"].startswith("New hire setup")
    assert env.entity["status"] == {"id": 1, "name": "New", "sort": 0}
    assert env.entity["_info"]["enteredBy"] == "jsmith"
    assert env.key_url == KEY_URL
    assert env.message_id == "2b6f0f5e-6a43-4c1e-9a55-1d0f7c3e8a01"
    assert (env.from_url, env.company_id, env.member_id) == (
        "http://cw.test",
        "fixpilot_demo",
        "jsmith",
    )
    assert env.product_instance_id and env.partner_id is None


def test_ticket__updated():
    _, env = load("ticket__updated.json")
    assert (env.record_id, env.action, env.type) == (5002, "updated", "ticket")
    assert env.entity["status"]["id"] == 3
    assert env.entity["_info"]["updatedBy"] == "agarcia"


def test_ticket__deleted():
    _, env = load("ticket__deleted.json")
    assert (env.record_id, env.action, env.type) == (5009, "deleted", "ticket")
    assert env.entity is None
    assert env.message_id is None
    assert env.key_url == KEY_URL


def test_ticket__closed_outside():
    _, env = load("ticket__closed_outside.json")
    assert (env.record_id, env.action) == (5004, "updated")
    assert env.entity["closedFlag"] is True
    assert env.entity["status"]["name"] == "Resolved"
    assert env.entity["_info"]["updatedBy"] == "jsmith"


def test_ticket__moved_board():
    _, env = load("ticket__moved_board.json")
    assert env.record_id == 5005
    assert env.entity["board"] == {"id": 2, "name": "Escalations"}
    assert env.entity["status"]["id"] == 11


def test_ticket__merged():
    _, env = load("ticket__merged.json")
    assert env.record_id == 5010
    assert env.entity["mergedParentTicket"]["id"] == 5006
    assert env.entity["closedFlag"] is True


def test_ticket__own_echo():
    _, env = load("ticket__own_echo.json")
    assert env.record_id == 5001
    assert env.entity["_info"]["updatedBy"] == "fixpilot_api"
    assert env.member_id == "fixpilot_api"


def test_ticket__type_capitalised():
    raw, env = load("ticket__type_capitalised.json")
    assert json.loads(raw)["Type"] == "Ticket"
    assert env.type == "ticket"
    assert env.record_id == 5003 and env.message_id is None


def test_company__updated():
    _, env = load("company__updated.json")
    assert (env.record_id, env.action, env.type) == (1, "updated", "company")
    assert env.entity["identifier"] == "ContosoDental"


def test_fixtures_agree_with_the_simulator_seed():
    state = SimulatorState.demo()
    ticket_files = sorted(FIXTURES.glob("ticket__*.json"))
    assert len(ticket_files) == 8
    for path in ticket_files:
        env = parse_callback(path.read_bytes())
        assert env.record_id in state.tickets, path.name
        if env.entity is None:
            continue
        board = state.boards[env.entity["board"]["id"]]
        status = board.status(env.entity["status"]["id"])
        assert status is not None and status.name == env.entity["status"]["name"], path.name
        assert env.entity["closedFlag"] is status.closed, path.name


# --- parsing rules --------------------------------------------------------------------------


def test_keys_are_case_insensitive_and_entity_may_be_an_object():
    raw = json.dumps(
        {
            "action": "Updated",
            "TYPE": "ticket",
            "id": "5001",
            "entity": {"id": 5001, "summary": "x"},
            "metadata": {"KEY_URL": KEY_URL},
            "messageId": "abc",
        }
    ).encode()
    env = parse_callback(raw)
    assert (env.record_id, env.action, env.message_id) == (5001, "updated", "abc")
    assert env.entity == {"id": 5001, "summary": "x"}
    assert env.key_url == KEY_URL


def test_record_id_falls_back_to_the_entity_id():
    raw = json.dumps({"Action": "added", "Type": "ticket", "Entity": '{"id": 42}'}).encode()
    assert parse_callback(raw).record_id == 42


@pytest.mark.parametrize(
    "body",
    [
        # What the fast parser refuses or reads otherwise is read as the json module reads it.
        {"Action": "updated", "Type": "ticket", "ID": 7, "Entity": json.dumps({"n": 2**80 + 1})},
        {"Action": "updated", "Type": "ticket", "ID": 7, "Entity": json.dumps({"n": -(2**63) - 1})},
        {"Action": "updated", "Type": "ticket", "ID": 7, "Entity": json.dumps({"n": 2**64})},
        {"Action": "updated", "Type": "ticket", "ID": 7, "note": "\ud800 lone"},
        {"Action": "updated", "Type": "ticket", "ID": 7, "Entity": json.dumps({"s": "\udfff"})},
        # Repeated keys: the last one counts, as in the json module.
        {"Action": "updated", "Type": "ticket", "ID": 7, "Entity": '{"id": 1, "id": 2}'},
    ],
)
def test_a_body_reads_as_the_json_module_reads_it(body: dict):
    raw = json.dumps(body).encode()
    envelope = parse_callback(raw)
    entity = body.get("Entity")
    assert envelope.entity == (json.loads(entity) if entity else None)
    if envelope.entity and "n" in envelope.entity:
        assert type(envelope.entity["n"]) is int  # exactly, not a float that compares equal
    assert envelope.record_id == 7


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"Type": "ticket", "ID": 1}', "Action"),
        (b'{"Action": "updated", "ID": 1}', "Type"),
        (b'{"Action": "updated", "Type": "ticket", "Entity": "{not json"}', "not JSON"),
        (b'{"Action": "updated", "Type": "ticket", "Entity": "[1]"}', "not a JSON object"),
        (b'{"Action": "updated", "Type": "ticket", "ID": NaN}', "not valid JSON"),
        (b'{"Action": "updated", "Type": "ticket", "Entity": "{\\"x\\": -Infinity}"}', "not JSON"),
        (b'{"Action": "updated", "Type": "ticket", "ID": 1, "n": 1e400}', "not valid JSON"),
        (
            b'{"Action": "updated", "Type": "ticket", "ID": 1, "n": 12345678901234567890e400}',
            "not valid JSON",
        ),
        (b'{"Action": "updated", "Type": "ticket"', "not valid JSON"),
    ],
)
def test_malformed_bodies_are_rejected(raw: bytes, complaint: str):
    with pytest.raises(CallbackParseError) as err:
        parse_callback(raw)
    assert complaint in err.value.message


# --- signatures -----------------------------------------------------------------------------


def test_signature_matches_connectwise_recipe():
    raw, _ = load("ticket__updated.json")
    key = "s3cr3t-signing-key"
    digest = hashlib.sha256(key.encode()).digest()
    expected = base64.b64encode(hmac.new(digest, raw, hashlib.sha256).digest()).decode()

    assert signing_key_digest(key) == digest
    assert compute_signature(raw, key) == expected


def test_good_signature_verifies():
    raw, _ = load("ticket__own_echo.json")
    assert verify_signature(raw, compute_signature(raw, "k1"), "k1")
    assert verify_signature(raw, " " + compute_signature(raw, "k1") + "\n", "k1")


@pytest.mark.parametrize("header", [None, "", "garbage", "éé", "AAAA"])
def test_missing_or_garbage_signature_fails(header):
    raw, _ = load("ticket__own_echo.json")
    assert verify_signature(raw, header, "k1") is False


def test_signature_with_other_key_or_tampered_body_fails():
    raw, _ = load("ticket__own_echo.json")
    signature = compute_signature(raw, "k1")
    assert not verify_signature(raw, signature, "k2")
    assert not verify_signature(raw.replace(b"5001", b"5002"), signature, "k1")
    assert not verify_signature(raw, signature, "")


# --- key_url_allowed ------------------------------------------------------------------------

CW_API = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"


@pytest.mark.parametrize(
    ("key_url", "api_url", "allowed"),
    [
        (KEY_URL, API_URL, True),
        ("https://API-NA.MyConnectWise.net/v4_6_release/apis/3.0/k", CW_API, True),
        ("https://api-na.myconnectwise.net:443/x", CW_API, True),
        ("https://api-na.myconnectwise.net/x", "https://api-na.myconnectwise.net:443/a", True),
        ("http://cw.test:80/x", "http://cw.test/v4_6_release/apis/3.0", True),
        ("https://evil.example/v4_6_release/apis/3.0/key", CW_API, False),
        ("https://api-eu.myconnectwise.net/v4_6_release/apis/3.0/key", CW_API, False),
        ("https://api-na.myconnectwise.net:8443/key", CW_API, False),
        ("http://api-na.myconnectwise.net/key", CW_API, False),
        ("http://cw.test:8080/x", API_URL, False),
        ("https://api-na.myconnectwise.net@evil.example/key", CW_API, False),
        ("https://user:pw@api-na.myconnectwise.net/key", CW_API, False),
        ("ftp://api-na.myconnectwise.net/key", "ftp://api-na.myconnectwise.net/", False),
        ("https://api-na.myconnectwise.net:99999/key", CW_API, False),
        ("/v4_6_release/apis/3.0/key", CW_API, False),
        (None, CW_API, False),
        ("", CW_API, False),
    ],
)
def test_key_url_allowed(key_url, api_url, allowed):
    assert key_url_allowed(key_url, api_url) is allowed


# Real key URLs: under the site's codebase, outside /apis/3.0, on the API host or on the
# screens' host of the same region (CONNECTWISE.md, the developer guide's callback body).
KEY_PATH = "/system/callbackkey/index.rails?companyName=examplemsp&id=0b7c6f1e-2a3d-4c5b-8e9f"
NA = "na.myconnectwise.net"


@pytest.mark.parametrize(
    "key_url",
    [
        f"https://{NA}/v4_6_release{KEY_PATH}",
        f"https://api-{NA}/v4_6_release{KEY_PATH}",
        f"https://{NA}/v2025_1{KEY_PATH}",  # a Cloud site's versioned codebase
        f"https://NA.MyConnectWise.net:443/v4_6_release{KEY_PATH}",
    ],
)
def test_real_key_urls_on_the_accounts_hosts_are_allowed(key_url):
    assert key_url_allowed(key_url, CW_API)


@pytest.mark.parametrize(
    "key_url",
    [
        f"https://eu.myconnectwise.net/v4_6_release{KEY_PATH}",  # another region
        f"https://api-eu.myconnectwise.net/v4_6_release{KEY_PATH}",
        f"https://au.myconnectwise.net/v4_6_release{KEY_PATH}",
        f"https://{NA}.evil.example/v4_6_release{KEY_PATH}",  # look-alikes
        f"https://api-{NA}.evil.example/v4_6_release{KEY_PATH}",
        f"https://xna.myconnectwise.net/v4_6_release{KEY_PATH}",
        f"https://na-myconnectwise.net/v4_6_release{KEY_PATH}",
        f"https://api-api-{NA}/v4_6_release{KEY_PATH}",
        f"https://{NA}./v4_6_release{KEY_PATH}",
        f"https://myconnectwise.net/v4_6_release{KEY_PATH}",
        f"https://{NA}@evil.example/v4_6_release{KEY_PATH}",  # user info
        f"https://evil.example@{NA}/v4_6_release{KEY_PATH}",
        f"https://user:pw@{NA}/v4_6_release{KEY_PATH}",
        f"https://{NA}\\@evil.example/v4_6_release{KEY_PATH}",
        f"https://{NA}:8443/v4_6_release{KEY_PATH}",  # other ports and schemes
        f"https://{NA}:80/v4_6_release{KEY_PATH}",
        f"http://{NA}/v4_6_release{KEY_PATH}",
        f"//{NA}/v4_6_release{KEY_PATH}",
    ],
)
def test_hostile_key_urls_are_refused(key_url):
    assert not key_url_allowed(key_url, CW_API)


def test_only_a_cloud_api_host_has_a_screens_host():
    on_prem = "https://cw.example.com/v4_6_release/apis/3.0/"
    assert key_url_allowed(f"https://cw.example.com/v4_6_release{KEY_PATH}", on_prem)
    assert not key_url_allowed(f"https://api-cw.example.com/v4_6_release{KEY_PATH}", on_prem)
    assert not key_url_allowed(f"https://example.com/v4_6_release{KEY_PATH}", on_prem)


def test_the_developer_guides_callback_names_an_allowed_key_url():
    raw = (FIXTURES / "real_shapes" / "callback_body__cw_developer_guide.json").read_bytes()
    envelope = parse_callback(raw)
    assert envelope.from_url == NA  # a bare host
    assert key_url_allowed(envelope.key_url, CW_API)
    assert not key_url_allowed(
        envelope.key_url, "https://api-eu.myconnectwise.net/v4_6_release/apis/3.0/"
    )


# --- dedupe ---------------------------------------------------------------------------------


def test_dedupe_uses_the_message_id_when_present():
    raw, env = load("ticket__updated.json")
    assert dedupe_key(env, raw) == "8d1c2e4f-0b7a-4f3e-8c21-5a9e6d4b7c02"


def test_dedupe_without_message_id_is_stable_and_distinct():
    raw, env = load("ticket__type_capitalised.json")
    key = dedupe_key(env, raw)
    assert key == dedupe_key(parse_callback(raw), raw)
    assert len(key) == 64 and all(c in "0123456789abcdef" for c in key)

    later = raw.replace(b"2025-03-11T12:45:50Z", b"2025-03-11T12:46:10Z")
    assert dedupe_key(parse_callback(later), later) != key

    deleted_raw, deleted = load("ticket__deleted.json")
    assert dedupe_key(deleted, deleted_raw) not in (key, dedupe_key(parse_callback(later), later))
