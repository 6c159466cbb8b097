"""The real ConnectWiseProvider against the ConnectWise simulator over real HTTP."""

from __future__ import annotations

import time
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
    DEMO_MEMBER_HASH,
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
    created = await cw.setup.create_hosted_setup(
        description="Fixpilot",
        screen_id=1,
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
