"""The real ConnectWiseProvider against the ConnectWise simulator over real HTTP."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from providers.psa.base import (
    NoteKind,
    PSAAuthError,
    PSANotFound,
    PSAPermissionError,
    PSAStatusVerificationError,
    PSAUnavailable,
    PSAValidationError,
)
from providers.psa.connectwise import (
    SIGNATURE_HEADER,
    ConnectWiseConfig,
    ConnectWiseProvider,
    key_url_allowed,
    parse_callback,
    verify_signature,
)
from providers.psa.connectwise.config import basic_authorization
from providers.psa.simulator import (
    API_PREFIX,
    DEMO_MEMBER,
    DEMO_MEMBER_CONTEXT,
    DEMO_MEMBER_HASH,
    SERVICE_TICKET_SCREEN_ID,
    SimulatorState,
    create_simulator_app,
)

HELP_DESK_RESOLVED = 4
HELP_DESK_IN_PROGRESS = 2
ESCALATIONS_RESOLVED = 14


@dataclass
class Sim:
    state: SimulatorState
    server: TestServer


def config_for(state: SimulatorState, **overrides) -> ConnectWiseConfig:
    settings = dict(
        api_url=state.api_url,
        company_id=state.company_id,
        public_key=state.public_key,
        private_key=state.private_key,
        client_id=state.client_id,
        api_member_id=state.api_member_id,
        timeout=2.0,
        retry_backoff=0.01,
        max_retry_wait=2.0,
    )
    settings.update(overrides)
    return ConnectWiseConfig(**settings)


@pytest.fixture
async def sim(aiohttp_server) -> Sim:
    state = SimulatorState.demo()
    server = await aiohttp_server(create_simulator_app(state))
    state.site_url = str(server.make_url("")).rstrip("/")
    return Sim(state, server)


@pytest.fixture
async def cw(sim: Sim):
    provider = ConnectWiseProvider(config_for(sim.state))
    yield provider
    await provider.aclose()


def api_authorization(state: SimulatorState) -> str:
    return basic_authorization(state.company_id, state.public_key, state.private_key)


def api_calls(state: SimulatorState, method: str, path: str) -> int:
    return sum(1 for m, p in state.requests if m == method and p == path)


async def api_call(
    sim: Sim,
    method: str,
    path: str,
    *,
    authorization: str | None = None,
    cookies: dict[str, str] | None = None,
    **kwargs,
) -> tuple[int, dict[str, str], object]:
    """One raw request to the simulator's API: (status, headers, parsed JSON body)."""
    headers = {"clientId": sim.state.client_id}
    if cookies is not None:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    else:
        headers["Authorization"] = authorization or api_authorization(sim.state)
    url = path if "://" in path else f"{sim.state.api_url}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as resp,
    ):
        body = await resp.json(content_type=None)
        return resp.status, dict(resp.headers), body


async def api_get(sim: Sim, path: str, **kwargs) -> tuple[int, dict[str, str], object]:
    return await api_call(sim, "GET", path, **kwargs)


async def test_get_ticket_maps_the_seeded_ticket(cw: ConnectWiseProvider):
    ticket = await cw.get_ticket(5001)

    assert ticket.id == 5001
    assert "print spooler" in ticket.summary.lower()
    assert (ticket.board_id, ticket.board_name) == (1, "Help Desk")
    assert (ticket.status_id, ticket.status_name) == (1, "New")
    assert ticket.company_name == "Contoso Dental Group"
    assert ticket.contact_name == "Maria Lopez"
    assert ticket.closed is False and ticket.merged_parent_id is None
    assert ticket.last_updated and ticket.updated_by == "jsmith"


async def test_unknown_ticket_is_not_found(cw: ConnectWiseProvider):
    with pytest.raises(PSANotFound) as err:
        await cw.get_ticket(999)
    assert "999" in err.value.message


async def test_board_statuses_and_ticket_statuses(cw: ConnectWiseProvider):
    statuses = await cw.list_board_statuses(1)
    by_id = {s.id: s for s in statuses}

    assert sorted(by_id) == [1, 2, 3, 4, 5, 6, 7]
    assert [s.id for s in statuses if s.closed] == [4, 6]
    assert by_id[7].inactive and by_id[1].default
    assert all(s.board_id == 1 for s in statuses)
    assert [s.id for s in await cw.list_ticket_statuses(5008)] == list(range(11, 18))


async def test_set_and_verify_status(sim: Sim, cw: ConnectWiseProvider):
    await cw.set_status(5001, HELP_DESK_RESOLVED)
    ticket = await cw.verify_status(5001, HELP_DESK_RESOLVED)

    assert (ticket.status_id, ticket.status_name, ticket.closed) == (4, "Resolved", True)
    assert ticket.updated_by == "fixpilot_api"
    assert cw.callbacks.is_own_echo(sim.state.tickets[5001])


async def test_status_of_another_board_answers_200_but_verify_fails(
    sim: Sim, cw: ConnectWiseProvider
):
    await cw.set_status(5001, ESCALATIONS_RESOLVED)  # no error: ConnectWise says OK

    with pytest.raises(PSAStatusVerificationError) as err:
        await cw.verify_status(5001, ESCALATIONS_RESOLVED)
    assert err.value.expected == ESCALATIONS_RESOLVED
    assert err.value.actual is not None and err.value.actual.id == 1
    assert err.value.actual.name == "New"
    assert sim.state.tickets[5001]["status"]["id"] == 1


async def test_workflow_rule_reverting_the_status_fails_verification(
    sim: Sim, cw: ConnectWiseProvider
):
    sim.state.workflow_revert_status = {HELP_DESK_RESOLVED: HELP_DESK_IN_PROGRESS}

    await cw.set_status(5001, HELP_DESK_RESOLVED)
    with pytest.raises(PSAStatusVerificationError) as err:
        await cw.verify_status(5001, HELP_DESK_RESOLVED)

    assert err.value.expected == HELP_DESK_RESOLVED
    assert err.value.actual.id == HELP_DESK_IN_PROGRESS
    assert err.value.actual.closed is False


async def test_note_flags_are_stored_per_kind(sim: Sim, cw: ConnectWiseProvider):
    resolution = await cw.add_note(5002, "Rebuilt the Outlook profile.", NoteKind.RESOLUTION)
    internal = await cw.add_note(5002, "Escalation package: ...", NoteKind.INTERNAL)

    stored = {str(n["id"]): n for n in sim.state.notes[5002]}
    flags = ("resolutionFlag", "internalAnalysisFlag", "detailDescriptionFlag")
    assert [stored[resolution.id][f] for f in flags] == [True, False, False]
    assert [stored[internal.id][f] for f in flags] == [False, True, False]
    for note in (stored[resolution.id], stored[internal.id]):
        assert note["customerUpdatedFlag"] is False
        assert note["processNotifications"] is False
        assert note["createdBy"] == "fixpilot_api"
    assert resolution.ticket_id == 5002 and resolution.kind is NoteKind.RESOLUTION


async def test_find_note_matches_text_and_kind(cw: ConnectWiseProvider):
    text = "Reset the OneDrive client.\nSync resumed."
    posted = await cw.add_note(5003, text, NoteKind.RESOLUTION)

    reformatted = "Reset the OneDrive client.  \r\nSync resumed.\n"
    found = await cw.find_note(5003, reformatted, NoteKind.RESOLUTION)
    assert found is not None and found.id == posted.id
    assert await cw.find_note(5003, text, NoteKind.INTERNAL) is None
    assert await cw.find_note(5003, "Reset the OneDrive client.", NoteKind.RESOLUTION) is None


async def test_429_with_retry_after_is_retried_after_the_wait(sim: Sim, cw: ConnectWiseProvider):
    sim.state.faults.fail_next(429, retry_after=1)

    started = time.monotonic()
    ticket = await cw.get_ticket(5004)
    elapsed = time.monotonic() - started

    assert ticket.id == 5004
    assert 0.9 <= elapsed < 1.8
    assert api_calls(sim.state, "GET", "service/tickets/5004") == 2


async def test_503_twice_then_ok_is_retried(sim: Sim, cw: ConnectWiseProvider):
    sim.state.faults.fail_next(503, count=2)

    assert (await cw.get_ticket(5005)).id == 5005
    assert api_calls(sim.state, "GET", "service/tickets/5005") == 3
    assert sim.state.faults.queued == []


async def test_503_on_every_attempt_gives_unavailable(sim: Sim):
    provider = ConnectWiseProvider(config_for(sim.state, max_attempts=3))
    sim.state.faults.fail_next(503, count=10)
    try:
        with pytest.raises(PSAUnavailable) as err:
            await provider.get_ticket(5005)
    finally:
        await provider.aclose()
    assert err.value.status == 503 and err.value.uncertain is False
    assert api_calls(sim.state, "GET", "service/tickets/5005") == 3


async def test_400_is_not_retried(sim: Sim, cw: ConnectWiseProvider):
    with pytest.raises(PSAValidationError) as err:
        await cw.add_note(5006, "   ", NoteKind.DISCUSSION)

    assert err.value.status == 400 and "text" in err.value.message
    assert api_calls(sim.state, "POST", "service/tickets/5006/notes") == 1


async def test_500_is_reported_without_retry(sim: Sim, cw: ConnectWiseProvider):
    sim.state.faults.fail_next(500)

    with pytest.raises(PSAUnavailable) as err:
        await cw.get_ticket(5006)
    assert err.value.status == 500
    assert api_calls(sim.state, "GET", "service/tickets/5006") == 1


async def test_dropped_connection_after_note_stored_is_uncertain(sim: Sim, cw: ConnectWiseProvider):
    sim.state.faults.drop_after_note_stored = 1
    text = "Cleared the print spooler and restarted the service."

    with pytest.raises(PSAUnavailable) as err:
        await cw.add_note(5001, text, NoteKind.RESOLUTION)

    assert err.value.uncertain is True
    assert api_calls(sim.state, "POST", "service/tickets/5001/notes") == 1  # no blind retry
    assert [n["text"] for n in sim.state.notes[5001]].count(text) == 1
    assert await cw.find_note(5001, text, NoteKind.RESOLUTION) is not None


async def test_timeout_on_post_is_uncertain_and_not_retried(sim: Sim):
    provider = ConnectWiseProvider(config_for(sim.state, timeout=0.1, max_attempts=3))
    sim.state.faults.latency = 0.3
    try:
        with pytest.raises(PSAUnavailable) as post_err:
            await provider.add_note(5007, "DNS fixed.", NoteKind.RESOLUTION)
        with pytest.raises(PSAUnavailable) as get_err:
            await provider.get_ticket(5007)
    finally:
        await provider.aclose()
    assert post_err.value.uncertain is True
    assert api_calls(sim.state, "POST", "service/tickets/5007/notes") == 1
    assert get_err.value.uncertain is False
    assert api_calls(sim.state, "GET", "service/tickets/5007") == 3


async def test_simulator_down_is_unavailable(sim: Sim, cw: ConnectWiseProvider):
    sim.state.faults.down = True

    with pytest.raises(PSAUnavailable) as err:
        await cw.get_ticket(5001)
    assert err.value.uncertain is False
    # 4 attempts (the default); aiohttp itself resends an idempotent request once when the
    # server closes a connection without answering, so each attempt may arrive twice.
    assert 4 <= api_calls(sim.state, "GET", "service/tickets/5001") <= 8

    sim.state.faults.reset()
    assert (await cw.get_ticket(5001)).id == 5001


async def test_bad_private_key_is_an_auth_error(sim: Sim):
    provider = ConnectWiseProvider(config_for(sim.state, private_key="wrong"))
    try:
        with pytest.raises(PSAAuthError) as err:
            await provider.get_ticket(5001)
    finally:
        await provider.aclose()
    assert err.value.status == 401
    assert "wrong" not in err.value.message


async def test_unknown_client_id_is_an_auth_error(sim: Sim):
    provider = ConnectWiseProvider(config_for(sim.state, client_id="not-registered"))
    try:
        with pytest.raises(PSAAuthError) as err:
            await provider.get_ticket(5001)
    finally:
        await provider.aclose()
    assert "clientId" in err.value.message


async def test_missing_client_id_header_is_rejected(sim: Sim):
    url = f"{sim.state.api_url}service/tickets/5001"
    headers = {"Authorization": api_authorization(sim.state)}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        body = await resp.json()
    assert resp.status == 401
    assert set(body) == {"code", "message", "errors"}


async def test_denied_path_is_a_permission_error(sim: Sim, cw: ConnectWiseProvider):
    sim.state.denied_paths = {"GET system/callbacks"}

    with pytest.raises(PSAPermissionError):
        await cw.setup.list_callbacks()
    assert (await cw.get_ticket(5001)).id == 5001


async def test_member_verification(sim: Sim, cw: ConnectWiseProvider):
    identity = await cw.pod.verify_member(DEMO_MEMBER, DEMO_MEMBER_HASH)
    assert identity.member_id == "jsmith"
    assert identity.name == "John Smith" and identity.email == "jsmith@msp.example"

    with pytest.raises(PSAAuthError):
        await cw.pod.verify_member(DEMO_MEMBER, "stale-hash")
    with pytest.raises(PSAAuthError):
        await cw.pod.verify_member("agarcia", DEMO_MEMBER_HASH)


async def test_duplicate_callback_returns_the_existing_registration(
    sim: Sim, cw: ConnectWiseProvider
):
    args = ("https://fixpilot.example/webhooks/connectwise/default?recordId=", "Ticket", "Owner", 1)
    first = await cw.setup.create_callback(*args, "Fixpilot tickets")
    second = await cw.setup.create_callback(*args, "Fixpilot tickets")

    assert first["id"] == second["id"]
    assert len(sim.state.callbacks) == 1
    disabled = await cw.setup.update_callback(first["id"], inactive=True)
    assert disabled["inactiveFlag"] is True
    assert sim.state.callbacks[first["id"]]["inactiveFlag"] is True


async def test_hosted_setup_and_company_info(sim: Sim, cw: ConnectWiseProvider):
    status, _, screens = await api_get(sim, "system/connectWiseHostedScreens")
    assert status == 200
    ticket_screen = next(s["id"] for s in screens if s["name"] == "Service Ticket")
    created = await cw.setup.create_hosted_setup(
        description="Fixpilot",
        screen_id=ticket_screen,
        url="https://fixpilot.example/pod?id=[cw_id]&screen=[cw_screen]",
        origin="https://fixpilot.example",
        pod_height=600,
    )
    assert [s["id"] for s in await cw.setup.list_hosted_setups()] == [created["id"]]
    assert sim.state.hosted_setups[created["id"]]["podHeight"] == 600

    info = await cw.setup.company_info()
    assert info["Codebase"] == "v4_6_release/"


async def test_lists_follow_the_link_header(sim: Sim):
    url = f"{sim.state.api_url}service/boards/1/statuses"
    headers = {"Authorization": api_authorization(sim.state), "clientId": sim.state.client_id}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"pageSize": 3}, headers=headers) as resp:
            first = await resp.json()
            next_url = resp.links["next"]["url"]
        async with session.get(next_url, headers=headers) as resp:
            second = await resp.json()
            assert "next" in resp.links and "prev" in resp.links
    assert [s["id"] for s in first + second] == [1, 2, 3, 4, 5, 6]


async def test_human_changes_in_connectwise(sim: Sim, cw: ConnectWiseProvider):
    sim.state.move_board(5001, 2)
    moved = await cw.get_ticket(5001)
    assert (moved.board_id, moved.status_id, moved.status_name) == (2, 11, "New")

    sim.state.merge_ticket(5010, 5006)
    merged = await cw.get_ticket(5010)
    assert merged.merged_parent_id == 5006 and merged.closed
    assert not cw.callbacks.is_own_echo(merged.raw)


# --- callbacks the simulator sends ----------------------------------------------------------


@pytest.fixture
async def receiver(aiohttp_server):
    received: list[tuple[bytes, str | None, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.read(), request.headers.get(SIGNATURE_HEADER), request.query_string)
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/connectwise/default", hook)
    server = await aiohttp_server(app)
    return server, received


async def test_emitted_callbacks_are_signed_and_recognisable(
    sim: Sim, cw: ConnectWiseProvider, receiver
):
    server, received = receiver
    hook_url = str(server.make_url("/webhooks/connectwise/default")) + "?recordId="
    await cw.setup.create_callback(hook_url, "Ticket", "Board", 1, "Fixpilot: Help Desk")

    await cw.set_status(5001, HELP_DESK_RESOLVED)  # Fixpilot's own write
    sim.state.close_ticket(5004)  # a technician closes another ticket
    sim.state.human_update(5008, status_id=12)  # Escalations board: not registered
    await sim.state.drain_callbacks()

    assert [d.status for d in sim.state.deliveries] == [204, 204]
    (own_raw, own_sig, own_query), (human_raw, human_sig, _) = received
    assert own_query == "recordId=5001"

    own, human = parse_callback(own_raw), parse_callback(human_raw)
    assert (own.record_id, own.action, own.type) == (5001, "updated", "ticket")
    assert own.entity["status"]["id"] == HELP_DESK_RESOLVED
    assert cw.callbacks.is_own_echo(own.entity) and not cw.callbacks.is_own_echo(human.entity)
    assert human.entity["closedFlag"] is True and human.member_id == "jsmith"

    assert key_url_allowed(own.key_url, cw.config.api_url)
    key = await cw.callbacks.get_signing_key(own.key_url)
    assert verify_signature(own_raw, own_sig, key)
    assert verify_signature(human_raw, human_sig, key)
    assert not verify_signature(own_raw, human_sig, key)


async def test_rotated_signing_key_keeps_old_key_urls_working(
    sim: Sim, cw: ConnectWiseProvider, receiver
):
    server, received = receiver
    hook_url = str(server.make_url("/webhooks/connectwise/default")) + "?recordId="
    await cw.setup.create_callback(hook_url, "Ticket", "Owner", 1, "Fixpilot")

    sim.state.close_ticket(5011)
    sim.state.rotate_signing_key()
    sim.state.close_ticket(5012)
    await sim.state.drain_callbacks()

    (old_raw, old_sig, _), (new_raw, new_sig, _) = received
    old, new = parse_callback(old_raw), parse_callback(new_raw)
    assert old.key_url != new.key_url
    assert verify_signature(old_raw, old_sig, await cw.callbacks.get_signing_key(old.key_url))
    assert verify_signature(new_raw, new_sig, await cw.callbacks.get_signing_key(new.key_url))


async def test_signing_key_url_off_the_api_host_is_refused(cw: ConnectWiseProvider):
    with pytest.raises(PSAValidationError):
        await cw.callbacks.get_signing_key(
            f"http://evil.example{API_PREFIX}/system/callbacks/signingkey"
        )


async def test_admin_api_injects_faults_and_human_changes(sim: Sim, cw: ConnectWiseProvider):
    admin = sim.server.make_url("/_sim/")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{admin}faults", json={"status": 503, "count": 1}) as resp:
            assert resp.status == 200
        async with session.post(f"{admin}tickets/5009/close", json={}) as resp:
            assert (await resp.json())["closedFlag"] is True
    assert (await cw.get_ticket(5009)).closed  # after one retried 503
    assert api_calls(sim.state, "GET", "service/tickets/5009") == 2


# --- ConnectWise's dialect: pagination, errors, counts, conditions, paths ------------------


async def test_link_header_puts_page_last_and_carries_every_rel(sim: Sim):
    status, headers, body = await api_get(
        sim, "service/boards/1/statuses", params={"pageSize": 2, "page": 2, "conditions": "id>0"}
    )
    assert status == 200 and [s["id"] for s in body] == [3, 4]

    links = {}
    for part in headers["Link"].split(","):
        url, rel = re.fullmatch(r'\s*<([^>]+)>; rel="(\w+)"', part).groups()
        links[rel] = url
    assert set(links) == {"first", "prev", "next", "last"}
    for rel, page in {"first": 1, "prev": 1, "next": 3, "last": 4}.items():
        assert links[rel].endswith(f"pageSize=2&page={page}")  # pageSize before page
        assert "conditions=id" in links[rel]  # the rest of the query is kept


async def test_single_page_has_no_link_header(sim: Sim):
    status, headers, _ = await api_get(sim, "service/boards/1/statuses")
    assert status == 200 and "Link" not in headers


async def test_duplicate_callback_is_invalid_object_with_object_exists_inside(sim: Sim):
    body = {"url": "https://fp.example/hook?recordId=", "type": "Ticket", "level": "Owner"}
    body |= {"objectId": 1}
    assert (await api_call(sim, "POST", "system/callbacks", json=body))[0] == 201

    status, _, error = await api_call(sim, "POST", "system/callbacks", json=body)

    assert status == 400
    assert error["code"] == "InvalidObject" and error["message"]
    (entry,) = error["errors"]
    assert entry["code"] == "ObjectExists"
    assert (entry["resource"], entry["field"]) == ("callback", "url")


async def test_callback_without_object_id_is_refused_naming_the_field(sim: Sim):
    body = {"url": "https://fp.example/hook?recordId=", "type": "Ticket", "level": "Owner"}

    status, _, error = await api_call(sim, "POST", "system/callbacks", json=body)

    assert status == 400 and error["code"] == "InvalidObject"
    assert [(e["code"], e["field"]) for e in error["errors"]] == [("NullValue", "objectId")]
    assert sim.state.callbacks == {}


async def test_duplicate_hosted_setup_and_unknown_screen_are_invalid_objects(sim: Sim):
    setup = {"description": "FP", "screenId": 43, "url": "https://fp.example/pod", "type": "Pod"}
    assert (await api_call(sim, "POST", "system/connectwisehostedsetups", json=setup))[0] == 201

    status, _, duplicate = await api_call(sim, "POST", "system/connectwisehostedsetups", json=setup)
    assert status == 400 and duplicate["code"] == "InvalidObject"
    assert [e["code"] for e in duplicate["errors"]] == ["ObjectExists"]

    nowhere = {**setup, "screenId": 999}
    status, _, unknown = await api_call(sim, "POST", "system/connectWiseHostedSetups", json=nowhere)
    assert status == 400 and [e["field"] for e in unknown["errors"]] == ["screenId"]


async def test_other_errors_carry_null_errors(sim: Sim):
    status, _, error = await api_get(sim, "service/tickets/999")
    assert status == 404 and error == {
        "code": "NotFound",
        "message": "Ticket ID 999 not found",
        "errors": None,
    }
    status, _, error = await api_call(sim, "DELETE", "service/tickets/5001")
    assert status == 405 and error["errors"] is None
    status, _, error = await api_get(sim, "service/nothing-here")
    assert status == 404 and error["code"] == "NotFound"


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ('summary like "%PRINTER%"', [5001]),
        ("board/id=2", [5008]),
        ('board/id=1 and status/name="In Progress"', [5002, 5005]),
        ('summary like "%outlook%" or summary like "%vpn%"', [5002, 5005]),
        ('(board/id=2 or summary like "%printer%") and closedFlag=False', [5001, 5008]),
        ("closedFlag=True", [5004]),
        ("lastUpdated < [2024-01-01T00:00:00Z]", [5003]),
        ("_info/lastUpdated > [2024-01-01T00:00:00Z] and id < 5003", [5001, 5002]),
        ("id in (5001, 5011)", [5001, 5011]),
        ('owner/identifier="jsmith"', [5002, 5006]),
        ('status/name != "New" and closedFlag = false', [5002, 5005, 5006, 5008]),
    ],
)
async def test_conditions_filter_lists_and_counts(sim: Sim, conditions: str, expected: list[int]):
    sim.state.close_ticket(5004)
    sim.state.tickets[5003]["_info"]["lastUpdated"] = "2023-06-01T00:00:00Z"
    params = {"conditions": conditions, "pageSize": 100}

    _, _, tickets = await api_get(sim, "service/tickets", params=params)
    _, _, count = await api_get(sim, "service/tickets/count", params={"conditions": conditions})

    assert [t["id"] for t in tickets] == expected
    assert count == {"count": len(expected)}


async def test_count_without_conditions_counts_everything(sim: Sim):
    status, _, body = await api_get(sim, "service/tickets/count")
    assert status == 200 and body == {"count": len(sim.state.tickets)}


@pytest.mark.parametrize("bad", ["summary like printer", "(board/id=1", "board/id ~ 1", "x > [y]"])
async def test_conditions_it_cannot_read_are_400(sim: Sim, bad: str):
    status, _, error = await api_get(sim, "service/tickets", params={"conditions": bad})
    assert status == 400 and error["code"] == "InvalidObject" and "conditions" in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        "system/connectWiseHostedScreens",
        "system/connectwisehostedscreens",
        "SYSTEM/ConnectWiseHostedScreens",
    ],
)
async def test_paths_are_case_insensitive(sim: Sim, path: str):
    status, _, screens = await api_get(sim, path)
    assert status == 200
    by_name = {s["name"]: s for s in screens}
    assert by_name["Service Ticket"]["id"] == SERVICE_TICKET_SCREEN_ID != 1
    assert all(set(s) == {"id", "name", "screenId"} for s in screens)
    assert (await api_get(sim, "system/mymembers/INFO"))[0] == 200
    assert (await api_get(sim, "Service/Tickets/5001"))[0] == 200


# --- members: MyMemberInfo, by key pair, memberHash or the Hosted API's cookies ------------

POD_COOKIES = {
    "companyName": "fixpilot_demo",
    "memberId": DEMO_MEMBER,
    "memberHash": DEMO_MEMBER_HASH,
    "memberContext": DEMO_MEMBER_CONTEXT,
}


async def test_my_member_info_as_the_api_member(sim: Sim):
    status, _, info = await api_get(sim, "system/myMembers/info")

    assert status == 200
    assert (info["identifier"], info["fullName"]) == ("fixpilot_api", "Fixpilot API")
    assert info["defaultEmail"] == "fixpilot@msp.example" and info["licenseClass"] == "A"
    assert {"name", "officeEmail"}.isdisjoint(info)  # MyMemberInfo, not the Member record


async def test_my_member_info_as_a_member_with_the_member_hash(sim: Sim):
    authorization = basic_authorization(sim.state.company_id, DEMO_MEMBER, DEMO_MEMBER_HASH)

    status, _, info = await api_get(sim, "system/myMembers/info", authorization=authorization)

    assert status == 200
    assert (info["identifier"], info["fullName"]) == ("jsmith", "John Smith")
    assert info["defaultEmail"] == "jsmith@msp.example" and info["licenseClass"] == "F"
    assert info["defaultLocation"]["id"] and info["defaultDepartment"]["id"]


async def test_my_member_info_with_the_hosted_api_cookies(sim: Sim):
    status, _, info = await api_get(sim, "system/myMembers/info", cookies=POD_COOKIES)
    assert status == 200 and info["identifier"] == "jsmith"

    for changed in ({"memberContext": "someone-elses-context"}, {"memberHash": "stale"}):
        status, _, error = await api_get(
            sim, "system/myMembers/info", cookies={**POD_COOKIES, **changed}
        )
        assert status == 401 and error["code"] == "Unauthorized"
    without_context = {k: v for k, v in POD_COOKIES.items() if k != "memberContext"}
    status, _, _ = await api_get(sim, "system/myMembers/info", cookies=without_context)
    assert status == 401


async def test_ticket_screen_hands_the_pod_the_member_context(sim: Sim):
    url = sim.server.make_url("/_sim/ticket/5001/screen-data").with_query(member=DEMO_MEMBER)
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        auth = (await resp.json())["auth"]
    assert (auth["memberid"], auth["memberHash"]) == (DEMO_MEMBER, DEMO_MEMBER_HASH)
    assert auth["memberContext"] == DEMO_MEMBER_CONTEXT


async def test_ticket_screen_only_hosts_pods_of_the_service_ticket_screen(sim: Sim):
    pod = "https://fp.example/pod?id=[cw_id]&screen=[cw_screen]"
    sim.state.add_hosted_setup({"description": "x", "screenId": 1, "url": pod, "type": "Pod"})
    screen = sim.server.make_url("/_sim/ticket/5001")
    async with aiohttp.ClientSession() as session:
        async with session.get(screen) as resp:
            assert resp.status == 400
            assert f"screen id {SERVICE_TICKET_SCREEN_ID}" in await resp.text()
        sim.state.add_hosted_setup(
            {"description": "x", "screenId": SERVICE_TICKET_SCREEN_ID, "url": pod, "type": "Pod"}
        )
        async with session.get(screen) as resp:
            assert resp.status == 200
            assert "https://fp.example/pod?id=5001&amp;screen=ticket" in await resp.text()


# --- companyinfo: classic and Cloud ---------------------------------------------------------


async def test_company_info_classic_and_cloud(sim: Sim, cw: ConnectWiseProvider):
    classic = await cw.setup.company_info()
    assert (classic["Codebase"], classic["IsCloud"]) == ("v4_6_release/", False)

    sim.state.cloud = True
    cloud = await cw.setup.company_info()
    assert (cloud["Codebase"], cloud["VersionCode"], cloud["IsCloud"]) == (
        "v2025_1/",
        "v2025.1",
        True,
    )
    assert cloud["CompanyID"] == "fixpilot_demo" and cloud["VersionNumber"].startswith("v4.6.")
    assert cloud["SiteUrl"] == sim.server.make_url("").authority  # a bare host
    assert sim.state.api_url.endswith("/v4_6_release/apis/3.0/")  # the API stays put
    assert (await cw.get_ticket(5001)).id == 5001
    # ...and answers under the versioned codebase as well.
    versioned = sim.state.api_url.replace("/v4_6_release/", "/v2025_1/")
    assert (await api_get(sim, f"{versioned}service/tickets/5001"))[0] == 200


# --- callback bodies: FromUrl and the signing-key URL --------------------------------------

KEY_URL = re.compile(
    r"(?P<site>https?://[^/]+)/v4_6_release/system/callbackkey/index\.rails"
    r"\?companyName=fixpilot_demo&id=(?P<guid>[0-9a-f-]{36})"
)


async def test_callback_body_names_a_bare_host_and_connectwise_key_url(
    sim: Sim, cw: ConnectWiseProvider, receiver
):
    server, received = receiver
    hook_url = str(server.make_url("/webhooks/connectwise/default")) + "?recordId="
    await cw.setup.create_callback(hook_url, "Ticket", "Owner", 1, "Fixpilot")

    sim.state.close_ticket(5007)
    await sim.state.drain_callbacks()

    ((raw, signature, _),) = received
    body = json.loads(raw)
    assert body["FromUrl"] == sim.server.make_url("").authority  # "127.0.0.1:PORT"
    assert "://" not in body["FromUrl"]
    match = KEY_URL.fullmatch(body["Metadata"]["key_url"])
    assert match and match["site"] == sim.state.site_url

    async with aiohttp.ClientSession() as session:  # served without API credentials
        async with session.get(body["Metadata"]["key_url"]) as resp:
            assert resp.status == 200
            key = (await resp.json())["signing_key"]
        wrong_guid = body["Metadata"]["key_url"].replace(match["guid"], str(uuid.uuid4()))
        async with session.get(wrong_guid) as resp:
            assert resp.status == 404
    assert verify_signature(raw, signature, key)
    assert ("GET", "system/callbackkey/index.rails") in sim.state.requests


async def test_rotation_through_the_admin_api_gives_a_new_key_url(
    sim: Sim, cw: ConnectWiseProvider
):
    old_url = sim.state.key_url()
    rotate = sim.server.make_url("/_sim/signing-key/rotate")
    async with aiohttp.ClientSession() as session, session.post(rotate) as resp:
        rotated = await resp.json()
    assert rotated["key_id"] == 2 and KEY_URL.fullmatch(rotated["key_url"])
    assert rotated["key_url"] != old_url
    assert await cw.callbacks.get_signing_key(rotated["key_url"]) == sim.state.signing_keys[2]
    assert await cw.callbacks.get_signing_key(old_url) == sim.state.signing_keys[1]
    legacy = f"{sim.state.api_url}system/callbacks/signingkey?keyId=1"  # still answers
    assert await cw.callbacks.get_signing_key(legacy) == sim.state.signing_keys[1]


# --- saving and loading the simulator's records ---------------------------------------------


async def test_state_survives_save_and_load(sim: Sim, cw: ConnectWiseProvider, tmp_path):
    state = sim.state
    await cw.add_note(5001, "Cleared the spooler.", NoteKind.RESOLUTION)
    await cw.set_status(5001, HELP_DESK_RESOLVED)
    await cw.setup.create_callback("https://fp.example/hook?recordId=", "Ticket", "Board", 1, "FP")
    pod = {"description": "FP", "url": "https://fp.example/pod", "type": "Pod", "podHeight": 600}
    state.add_hosted_setup({**pod, "screenId": SERVICE_TICKET_SCREEN_ID})
    state.rotate_signing_key()
    state.key_url()  # gives the current key its GUID
    state.cloud = True
    state.workflow_revert_status = {4: 2}
    state.denied_paths = {"POST system/callbacks"}

    state.save(tmp_path / "sim.json")
    loaded = SimulatorState.load(tmp_path / "sim.json")

    for name in (
        "company_id", "public_key", "private_key", "client_id", "api_member_id", "cloud",
        "companies", "contacts", "boards", "members", "tickets", "notes", "callbacks",
        "hosted_setups", "signing_keys", "signing_key_guids", "denied_paths",
        "workflow_revert_status", "next_id",
    ):  # fmt: skip
        assert getattr(loaded, name) == getattr(state, name), name
    assert loaded.tickets[5001]["status"]["id"] == HELP_DESK_RESOLVED
    assert loaded.notes[5001][-1]["text"] == "Cleared the spooler."
    assert loaded.boards[1].statuses[3].closed is True
    assert loaded.member(DEMO_MEMBER).member_context == DEMO_MEMBER_CONTEXT
    assert loaded.new_id() == state.new_id()  # ids continue, never reused
    assert loaded.faults.queued == [] and loaded.requests == [] and loaded.site_url is None


async def test_a_loaded_state_serves_its_records(aiohttp_server, tmp_path):
    original = SimulatorState.demo()
    original.human_update(5002, status_id=3)
    original.save(tmp_path / "sim.json")

    loaded = SimulatorState.load(tmp_path / "sim.json")
    server = await aiohttp_server(create_simulator_app(loaded))
    loaded.site_url = str(server.make_url("")).rstrip("/")
    provider = ConnectWiseProvider(config_for(loaded))
    try:
        ticket = await provider.get_ticket(5002)
    finally:
        await provider.aclose()
    assert (ticket.status_id, ticket.status_name) == (3, "Waiting on Customer")
