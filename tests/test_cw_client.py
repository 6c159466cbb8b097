"""Unit tests of the ConnectWise client and provider with mocked HTTP (aioresponses)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from pathlib import Path

import aiohttp
import pytest
from aioresponses import aioresponses

from providers.psa import PSA_VENDORS, LocalProvider, PSAProvider
from providers.psa.base import (
    NoteKind,
    PSAAuthError,
    PSAError,
    PSANotFound,
    PSAPermissionError,
    PSARateLimited,
    PSAStatusVerificationError,
    PSAUnavailable,
    PSAValidationError,
    TicketStatus,
)
from providers.psa.connectwise import ConnectWiseConfig, ConnectWiseProvider
from providers.psa.connectwise.client import ConnectWiseClient

BASE = "https://api-na.example.net/v4_6_release/apis/3.0/"
TICKET_URL = f"{BASE}service/tickets/77"
NOTES_URL = f"{BASE}service/tickets/77/notes"
ACCEPT = "application/vnd.connectwise.com+json; version=2025.1"
SHAPES = Path(__file__).parent / "fixtures" / "connectwise" / "real_shapes"


def ticket_json(status_id: int = 1, closed: bool = False, **extra) -> dict:
    return {
        "id": 77,
        "summary": "VPN drops",
        "board": {"id": 1, "name": "Help Desk"},
        "status": {"id": status_id, "name": {1: "New", 4: "Resolved"}.get(status_id, "Other")},
        "company": {"id": 3, "identifier": "Fab", "name": "Fabrikam"},
        "contact": {"id": 9, "name": "Tom Becker"},
        "closedFlag": closed,
        "mergedParentTicket": None,
        "_info": {"lastUpdated": "2025-03-11T10:00:00Z", "updatedBy": "jsmith"},
        **extra,
    }


def make_config(**overrides) -> ConnectWiseConfig:
    settings = dict(
        api_url=BASE.rstrip("/"),
        company_id="acme",
        public_key="PubKey1",
        private_key="PrivKey1",
        client_id="11111111-2222-3333-4444-555555555555",
        api_member_id="fixpilot_api",
        retry_backoff=0.001,
        max_retry_wait=1.0,
        max_attempts=3,
        timeout=2.0,
    )
    settings.update(overrides)
    return ConnectWiseConfig(**settings)


@pytest.fixture
async def cw():
    provider = ConnectWiseProvider(make_config())
    yield provider
    await provider.aclose()


class _StreamWriterStub:
    output_size = 0


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without the `stream_writer` that aiohttp 3.14
    requires; supply a stub so mocked responses can be constructed."""

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("stream_writer", _StreamWriterStub())
        super().__init__(method, url, **kwargs)


class compat_aioresponses(aioresponses):
    def add(self, url, method="GET", **kwargs):
        kwargs.setdefault("response_class", _CompatResponse)
        super().add(url, method, **kwargs)


@pytest.fixture
def http():
    with compat_aioresponses() as mocked:
        yield mocked


def calls(http: aioresponses, method: str, url: str) -> list:
    return [c for (m, u), cs in http.requests.items() if m == method and str(u) == url for c in cs]


def sent_json(call) -> object:
    return json.loads(call.kwargs["data"])


# --- headers and bodies ---------------------------------------------------------------------


async def test_requests_carry_basic_auth_client_id_and_accept(cw, http):
    http.get(TICKET_URL, payload=ticket_json())

    ticket = await cw.get_ticket(77)

    headers = calls(http, "GET", TICKET_URL)[0].kwargs["headers"]
    assert (
        headers["Authorization"] == "Basic " + base64.b64encode(b"acme+PubKey1:PrivKey1").decode()
    )
    assert headers["clientId"] == "11111111-2222-3333-4444-555555555555"
    assert headers["Accept"] == ACCEPT
    assert (ticket.id, ticket.status_name, ticket.company_name) == (77, "New", "Fabrikam")


async def test_status_patch_replaces_the_whole_status_object(cw, http):
    http.patch(TICKET_URL, payload=ticket_json(57))

    await cw.set_status(77, 57)

    call = calls(http, "PATCH", TICKET_URL)[0]
    assert sent_json(call) == [{"op": "replace", "path": "status", "value": {"id": 57}}]
    assert call.kwargs["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("kind", "flags"),
    [
        (NoteKind.RESOLUTION, (True, False, False)),
        (NoteKind.INTERNAL, (False, True, False)),
        (NoteKind.DISCUSSION, (False, False, True)),
    ],
)
async def test_note_body_sets_exactly_one_kind_flag(cw, http, kind, flags):
    http.post(NOTES_URL, status=201, payload={"id": 901, "text": "hi"})

    note = await cw.add_note(77, "hi", kind)

    body = sent_json(calls(http, "POST", NOTES_URL)[0])
    names = ("resolutionFlag", "internalAnalysisFlag", "detailDescriptionFlag")
    assert tuple(body[n] for n in names) == flags
    assert body["customerUpdatedFlag"] is False and body["processNotifications"] is False
    assert (note.id, note.kind) == ("901", kind)


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": TimeoutError()},
    ],
    ids=["429", "502", "503", "504", "disconnect", "timeout"],
)
async def test_transient_failures_are_retried(cw, http, failure):
    http.get(TICKET_URL, **failure)
    http.get(TICKET_URL, payload=ticket_json())

    assert (await cw.get_ticket(77)).id == 77
    assert len(calls(http, "GET", TICKET_URL)) == 2


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, PSAValidationError),
        (401, PSAAuthError),
        (403, PSAPermissionError),
        (404, PSANotFound),
        (409, PSAValidationError),
        (422, PSAValidationError),
        (418, PSAError),
    ],
)
async def test_other_4xx_are_not_retried(cw, http, status, error_type):
    http.get(TICKET_URL, status=status, payload={"code": "X", "message": "nope", "errors": None})
    http.get(TICKET_URL, payload=ticket_json())

    with pytest.raises(error_type) as err:
        await cw.get_ticket(77)
    assert type(err.value) is error_type
    assert (err.value.status, err.value.code, err.value.message) == (status, "X", "nope")
    assert len(calls(http, "GET", TICKET_URL)) == 1


async def test_404_carries_connectwise_message(cw, http):
    http.get(
        TICKET_URL,
        status=404,
        payload={"code": "NotFound", "message": "Ticket ID 77 not found", "errors": None},
    )
    with pytest.raises(PSANotFound) as err:
        await cw.get_ticket(77)
    assert err.value.message == "Ticket ID 77 not found"
    assert err.value.code == "NotFound"


async def test_403_is_a_permission_error_with_field_details(cw, http):
    http.get(
        TICKET_URL,
        status=403,
        payload={
            "code": "Unauthorized",
            "message": "You do not have access",
            "errors": [{"code": "Denied", "message": "Service Tickets: Inquire", "field": "x"}],
        },
    )
    with pytest.raises(PSAPermissionError) as err:
        await cw.get_ticket(77)
    assert err.value.message == "You do not have access (x: Service Tickets: Inquire)"
    assert "PrivKey1" not in str(err.value)


async def test_500_is_unavailable_without_retry(cw, http):
    http.get(TICKET_URL, status=500, body="<html>boom</html>", content_type="text/html")
    http.get(TICKET_URL, payload=ticket_json())

    with pytest.raises(PSAUnavailable) as err:
        await cw.get_ticket(77)
    assert err.value.status == 500 and err.value.uncertain is False
    assert err.value.message == "ConnectWise answered HTTP 500"
    assert len(calls(http, "GET", TICKET_URL)) == 1


async def test_retry_after_is_honoured(cw, http):
    http.get(TICKET_URL, status=429, headers={"Retry-After": "0.3"})
    http.get(TICKET_URL, payload=ticket_json())

    started = time.monotonic()
    await cw.get_ticket(77)
    assert time.monotonic() - started >= 0.3


async def test_retry_after_is_capped(http):
    provider = ConnectWiseProvider(make_config(max_retry_wait=0.05))
    http.get(TICKET_URL, status=429, headers={"Retry-After": "100"})
    http.get(TICKET_URL, payload=ticket_json())
    started = time.monotonic()
    try:
        await provider.get_ticket(77)
    finally:
        await provider.aclose()
    assert time.monotonic() - started < 1.0


async def test_rate_limited_on_every_attempt(cw, http):
    http.get(TICKET_URL, status=429, headers={"Retry-After": "0"}, repeat=True)

    with pytest.raises(PSARateLimited) as err:
        await cw.get_ticket(77)
    assert err.value.retry_after == 0 and err.value.status == 429
    assert len(calls(http, "GET", TICKET_URL)) == 3  # max_attempts


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 502},
        {"status": 504},
        {"status": 500},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": TimeoutError()},
    ],
    ids=["502", "504", "500", "disconnect", "timeout"],
)
async def test_post_that_may_have_been_applied_is_uncertain_and_not_retried(cw, http, failure):
    http.post(NOTES_URL, **failure)
    http.post(NOTES_URL, status=201, payload={"id": 1})

    with pytest.raises(PSAUnavailable) as err:
        await cw.add_note(77, "Resolved.", NoteKind.RESOLUTION)
    assert err.value.uncertain is True
    assert len(calls(http, "POST", NOTES_URL)) == 1


async def test_post_refused_with_503_or_429_is_retried(cw, http):
    http.post(NOTES_URL, status=503)
    http.post(NOTES_URL, status=429)
    http.post(NOTES_URL, status=201, payload={"id": 5})

    assert (await cw.add_note(77, "Resolved.", NoteKind.RESOLUTION)).id == "5"
    assert len(calls(http, "POST", NOTES_URL)) == 3


async def test_unreachable_host_is_retried_then_unavailable_and_certain(caplog):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = ConnectWiseProvider(make_config(api_url=f"http://127.0.0.1:{port}/apis/3.0/"))
    try:
        with pytest.raises(PSAUnavailable) as err:
            await provider.add_note(77, "x", NoteKind.INTERNAL)
    finally:
        await provider.aclose()
    assert err.value.uncertain is False  # never connected: nothing can have been stored
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 2


# --- provider logic -------------------------------------------------------------------------


async def test_verify_status_requires_closed_flag_for_a_closed_status(cw, http):
    http.get(TICKET_URL, payload=ticket_json(4, closed=False))
    http.get(
        f"{BASE}service/boards/1/statuses?page=1&pageSize=1000",
        payload=[
            {"id": 1, "name": "New", "defaultFlag": True, "sortOrder": 0},
            {"id": 4, "name": "Resolved", "closedStatus": True, "sortOrder": 3},
        ],
    )
    with pytest.raises(PSAStatusVerificationError) as err:
        await cw.verify_status(77, 4)
    assert err.value.expected == TicketStatus(4, "Resolved", board_id=1, closed=True)
    assert err.value.actual == TicketStatus(4, "Resolved", board_id=1, closed=False)


async def test_verify_status_mismatch_reports_both_statuses(cw, http):
    http.get(TICKET_URL, payload=ticket_json(1))

    with pytest.raises(PSAStatusVerificationError) as err:
        await cw.verify_status(77, 4)
    assert err.value.expected == 4 and err.value.actual.id == 1
    assert err.value.code == "status_not_applied"


async def test_find_note_follows_pages(cw, http):
    first_page = [{"id": i, "text": f"note {i}", "resolutionFlag": True} for i in range(3)]
    http.get(
        f"{NOTES_URL}?page=1&pageSize=1000",
        payload=first_page,
        headers={"Link": f'<{NOTES_URL}?page=2&pageSize=1000>; rel="next"'},
    )
    http.get(
        f"{NOTES_URL}?page=2&pageSize=1000",
        payload=[
            {"id": 10, "text": "Fixed it.\r\n", "internalAnalysisFlag": True},
            {"id": 11, "text": "Fixed it.\r\n", "resolutionFlag": True},
        ],
    )
    note = await cw.find_note(77, "Fixed it.", NoteKind.RESOLUTION)
    assert note is not None and note.id == "11"


async def test_member_verification_uses_the_member_credentials(cw, http):
    info_url = f"{BASE}system/myMembers/info"
    http.get(info_url, payload={"identifier": "JSmith", "firstName": "John", "lastName": "Smith"})
    http.get(info_url, payload={"identifier": "someone_else"})

    identity = await cw.pod.verify_member("jsmith", "hash-123")
    assert identity.member_id == "JSmith" and identity.name == "John Smith"
    headers = calls(http, "GET", info_url)[0].kwargs["headers"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"acme+jsmith:hash-123").decode()
    assert headers["clientId"] == make_config().client_id

    with pytest.raises(PSAAuthError):  # ConnectWise vouches for another member
        await cw.pod.verify_member("jsmith", "hash-123")


# A duplicate as ConnectWise reports it (InvalidObject, ObjectExists inside errors[]) and in
# the older top-level form; the client gives both the code "ObjectExists".
DUPLICATE_BODIES = {
    "inside_errors": {
        "code": "InvalidObject",
        "message": "callback object is invalid",
        "errors": [
            {
                "code": "ObjectExists",
                "message": "A callback with this url already exists.",
                "resource": "callback",
                "field": "url",
            }
        ],
    },
    "among_other_errors": {
        "code": "InvalidObject",
        "message": "callback object is invalid",
        "errors": [
            {"code": "InvalidValue", "message": "too long", "resource": "callback", "field": "x"},
            {"code": "ObjectExists", "message": "exists", "resource": "callback", "field": "url"},
        ],
    },
    "top_level": {"code": "ObjectExists", "message": "callback already exists", "errors": None},
}


@pytest.mark.parametrize("body", DUPLICATE_BODIES.values(), ids=DUPLICATE_BODIES.keys())
async def test_duplicate_is_a_validation_error_coded_object_exists(http, body):
    http.post(f"{BASE}system/callbacks", status=400, payload=body)
    client = ConnectWiseClient(make_config())
    try:
        with pytest.raises(PSAValidationError) as err:
            await client.request("POST", "system/callbacks", json_body={"url": "u"})
    finally:
        await client.aclose()
    assert (err.value.status, err.value.code) == (400, "ObjectExists")
    assert err.value.message.startswith(body["message"])
    assert len(calls(http, "POST", f"{BASE}system/callbacks")) == 1  # a 400 is not retried


async def test_invalid_object_without_object_exists_keeps_its_code_and_names_fields(http):
    http.post(
        f"{BASE}system/callbacks",
        status=400,
        payload={
            "code": "InvalidObject",
            "message": "callback object is invalid",
            "errors": [
                {
                    "code": "NullValue",
                    "message": "The objectId field is required.",
                    "resource": "callback",
                    "field": "objectId",
                }
            ],
        },
    )
    client = ConnectWiseClient(make_config())
    try:
        with pytest.raises(PSAValidationError) as err:
            await client.request("POST", "system/callbacks", json_body={"url": "u"})
    finally:
        await client.aclose()
    assert err.value.code == "InvalidObject"
    assert err.value.message == (
        "callback object is invalid (objectId: The objectId field is required.)"
    )


@pytest.mark.parametrize("body", DUPLICATE_BODIES.values(), ids=DUPLICATE_BODIES.keys())
async def test_duplicate_callback_returns_the_existing_registration(cw, http, body):
    url = "https://fixpilot.example/webhooks/connectwise/default?recordId="
    http.post(f"{BASE}system/callbacks", status=400, payload=body)
    existing = {"id": 31, "url": url, "type": "ticket", "level": "owner", "objectId": 1}
    http.get(f"{BASE}system/callbacks?page=1&pageSize=1000", payload=[existing])

    assert await cw.setup.create_callback(url, "Ticket", "Owner", 1, "Fixpilot") == existing


async def test_rate_limit_holds_requests_beyond_the_budget(http):
    provider = ConnectWiseProvider(make_config(rate_limit_per_minute=2))
    http.get(TICKET_URL, payload=ticket_json(), repeat=True)
    try:
        await provider.get_ticket(77)
        await provider.get_ticket(77)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(provider.get_ticket(77), timeout=0.2)
    finally:
        await provider.aclose()
    assert len(calls(http, "GET", TICKET_URL)) == 2


async def test_signing_key_url_on_another_host_is_never_fetched(cw, http):
    with pytest.raises(PSAValidationError):
        await cw.callbacks.get_signing_key("https://evil.example/v4_6_release/apis/3.0/key")
    assert http.requests == {}


async def test_signing_key_on_the_regions_screens_host_is_fetched(http):
    provider = ConnectWiseProvider(
        make_config(api_url="https://api-na.myconnectwise.net/v4_6_release/apis/3.0/")
    )
    key_url = (
        "https://na.myconnectwise.net/v4_6_release/system/callbackkey/index.rails"
        "?companyName=acme&id=0b7c6f1e-2a3d-4c5b-8e9f-1a2b3c4d5e6f"
    )
    http.get(key_url, payload={"signing_key": "k-123"})
    try:
        assert await provider.callbacks.get_signing_key(key_url) == "k-123"
        with pytest.raises(PSAValidationError):  # the same path in another region
            await provider.callbacks.get_signing_key(key_url.replace("//na.", "//eu."))
    finally:
        await provider.aclose()
    assert [str(url) for _, url in http.requests] == [key_url]


async def test_a_redirect_is_not_followed(cw, http):
    http.get(TICKET_URL, status=302, headers={"Location": "https://evil.example/steal"})
    http.get("https://evil.example/steal", payload=ticket_json())

    with pytest.raises(PSAError):
        await cw.get_ticket(77)
    assert [str(url) for _, url in http.requests] == [TICKET_URL]


@pytest.mark.parametrize(
    ("name", "error_type", "code"),
    [
        ("error_object_exists__cw_developer_guide", PSAValidationError, "ObjectExists"),
        ("error_required_field__cw_developer_guide", PSAValidationError, "InvalidObject"),
        ("error_not_found__cw_developer_guide", PSANotFound, None),
    ],
)
async def test_the_real_error_shapes_become_typed_errors(http, name, error_type, code):
    body = json.loads((SHAPES / f"{name}.json").read_text())
    status = 404 if error_type is PSANotFound else 400
    http.post(f"{BASE}system/callbacks", status=status, payload=body)
    client = ConnectWiseClient(make_config())
    try:
        with pytest.raises(error_type) as err:
            await client.request("POST", "system/callbacks", json_body={"url": "u"})
    finally:
        await client.aclose()
    assert err.value.message.startswith(body["message"])
    if code is not None:
        assert err.value.code == code
    for detail in body.get("errors") or []:  # the field-level reasons are kept
        assert f"{detail['field']}: {detail['message']}" in err.value.message


def test_is_own_echo(cw):
    assert cw.callbacks.is_own_echo({"_info": {"updatedBy": "Fixpilot_API"}})
    assert cw.callbacks.is_own_echo({"_info": {"updatedBy": "PubKey1"}})
    assert not cw.callbacks.is_own_echo({"_info": {"updatedBy": "jsmith"}})
    assert not cw.callbacks.is_own_echo({"_info": {}})
    assert not cw.callbacks.is_own_echo({})


def test_config_masks_the_private_key_and_normalises_the_url():
    config = make_config()
    assert "PrivKey1" not in repr(config) and "private_key=***" in repr(config)
    assert config.base_url == BASE
    assert make_config(api_url=BASE).base_url == BASE
    with pytest.raises(ValueError):
        make_config(api_url="api-na.example.net/v4_6_release/apis/3.0")


async def test_aclose_leaves_a_shared_session_open(http):
    async with aiohttp.ClientSession() as session:
        provider = ConnectWiseProvider(make_config(), session=session)
        http.get(TICKET_URL, payload=ticket_json())
        await provider.get_ticket(77)
        await provider.aclose()
        assert not session.closed


# --- registry and the local provider --------------------------------------------------------


async def test_registry_builds_providers():
    config = make_config()
    vendor = PSA_VENDORS["connectwise"]
    connection = vendor.connection.model_validate(
        {k: getattr(config, k) for k in vendor.connection.model_fields}
    )
    tuning = ("rate_limit_per_minute", "timeout", "max_attempts", "max_retry_wait", "retry_backoff")
    options = {**{k: getattr(config, k) for k in tuning}, "unrelated": "ignored"}
    provider = vendor.factory(connection, options, None)
    try:
        assert isinstance(provider, ConnectWiseProvider) and isinstance(provider, PSAProvider)
        assert provider.config == config
    finally:
        await provider.aclose()
    assert isinstance(PSA_VENDORS["local"].factory(None, {}, None), LocalProvider)


async def test_local_provider_refuses_ticket_work():
    local = LocalProvider()
    assert local.slug == "local" and isinstance(local, PSAProvider)
    assert local.callbacks is None and local.pod is None and local.setup is None
    for call in (
        local.get_ticket(1),
        local.add_note(1, "x", NoteKind.RESOLUTION),
        local.find_note(1, "x", NoteKind.RESOLUTION),
        local.set_status(1, 2),
        local.verify_status(1, 2),
        local.list_ticket_statuses(1),
        local.list_board_statuses(1),
        local.list_boards(),
    ):
        with pytest.raises(PSANotFound) as err:
            await call
        assert "not linked to a PSA ticket" in err.value.message
    await local.aclose()
