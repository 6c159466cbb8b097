"""Conformance: the simulator, driven by pyconnectwise, a client generated from ConnectWise's
own API schema. Its pydantic models parse the simulator's answers and its code reads the
simulator's headers and errors, so a shape the simulator gets wrong fails here (the asserts
are on model fields such as `full_name` and `default_email`).

How pyconnectwise reaches the simulator: it hard-codes `https://{manage_url}/…`, for the
companyinfo lookup as for the API. Rather than patch its URL building, the simulator is
served over TLS with a throwaway self-signed certificate for 127.0.0.1, made at test time by
the `openssl` command, and requests is told to trust exactly that certificate through
`REQUESTS_CA_BUNDLE` (which it honours for every call). pyconnectwise then runs unmodified,
TLS verification included.

pyconnectwise is synchronous (requests), so every call runs in a thread (`asyncio.to_thread`)
while the simulator keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from providers.psa.simulator import (
    DEMO_MEMBER,
    DEMO_MEMBER_HASH,
    SERVICE_TICKET_SCREEN_ID,
    SimulatorState,
    create_simulator_app,
)

with warnings.catch_warnings():
    # pyconnectwise's generated models pass pydantic a v1-style `example=` when imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyconnectwise import ConnectWiseManageAPIClient
    from pyconnectwise.exceptions import (
        AuthenticationFailedException,
        NotFoundException,
        ObjectExistsError,
    )
    from pyconnectwise.models.manage import (
        BoardStatus,
        CallbackEntry,
        ConnectWiseHostedScreen,
        Count,
        MyMemberInfo,
        ServiceNote,
        Ticket,
    )

HELP_DESK_RESOLVED = 4
CALLBACK = {
    "url": "https://fixpilot.example/webhooks/connectwise/default?recordId=",
    "objectId": 1,
    "type": "Ticket",
    "level": "Owner",
    "description": "Fixpilot",
}


@dataclass
class TlsSim:
    state: SimulatorState
    host: str  # "127.0.0.1:PORT", what pyconnectwise calls manage_url

    async def client(
        self, username: str | None = None, secret: str | None = None
    ) -> ConnectWiseManageAPIClient:
        """A pyconnectwise client; made in a thread since it looks the codebase up."""
        return await asyncio.to_thread(
            ConnectWiseManageAPIClient,
            self.state.company_id,
            self.host,
            self.state.client_id,
            username or self.state.public_key,
            secret or self.state.private_key,
        )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, valid for a day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the conformance tests need the openssl command (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def sim(aiohttp_server, certificate, monkeypatch) -> TlsSim:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    state = SimulatorState.demo()
    state.emit_callbacks = False
    server = await aiohttp_server(create_simulator_app(state), ssl=server_tls)
    state.site_url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return TlsSim(state, server.make_url("").authority)


def requests_to(state: SimulatorState, method: str, path: str) -> int:
    return state.requests.count((method, path))


async def test_codebase_lookup_and_a_ticket(sim: TlsSim):
    client = await sim.client()
    assert client.codebase == "v4_6_release/"

    ticket = await asyncio.to_thread(client.service.tickets.id(5001).get)

    assert isinstance(ticket, Ticket)
    assert ticket.id == 5001 and "printer" in ticket.summary.lower()
    assert ticket.record_type == "ServiceTicket"
    assert (ticket.board.id, ticket.board.name) == (1, "Help Desk")
    assert (ticket.status.id, ticket.status.name) == (1, "New")
    assert ticket.company.identifier == "ContosoDental"
    assert ticket.contact.name == "Maria Lopez"
    assert ticket.closed_flag is False and ticket.merged_parent_ticket is None
    assert ticket.info["updatedBy"] == "jsmith" and ticket.info["lastUpdated"]


async def test_cloud_codebase_is_followed(sim: TlsSim):
    sim.state.cloud = True
    client = await sim.client()
    assert client.codebase == "v2025_1/"

    ticket = await asyncio.to_thread(client.service.tickets.id(5002).get)

    assert ticket.id == 5002
    assert requests_to(sim.state, "GET", "service/tickets/5002") == 1


async def test_board_statuses_across_pages(sim: TlsSim):
    client = await sim.client()
    first_page = await asyncio.to_thread(client.service.boards.id(1).statuses.paginated, 1, 2)

    statuses = await asyncio.to_thread(lambda: list(first_page.all()))

    assert all(isinstance(s, BoardStatus) for s in statuses)
    assert [s.id for s in statuses] == [1, 2, 3, 4, 5, 6, 7]  # all four pages
    assert requests_to(sim.state, "GET", "service/boards/1/statuses") == 4
    resolved = statuses[HELP_DESK_RESOLVED - 1]
    assert (resolved.name, resolved.closed_status, resolved.board.id) == ("Resolved", True, 1)
    assert statuses[0].default_flag is True and statuses[6].inactive is True


async def test_post_a_note_and_list_it(sim: TlsSim):
    client = await sim.client()
    notes = client.service.tickets.id(5002).notes
    body = {"text": "Rebuilt the Outlook profile.", "resolutionFlag": True}

    note = await asyncio.to_thread(notes.post, body)
    listed = await asyncio.to_thread(notes.get)

    assert isinstance(note, ServiceNote)
    assert note.id and note.ticket_id == 5002 and note.text == body["text"]
    assert (note.resolution_flag, note.internal_analysis_flag) == (True, False)
    assert note.created_by == "fixpilot_api" and note.date_created is not None
    assert note.id in [n.id for n in listed]


async def test_post_a_note_by_another_member(sim: TlsSim):
    """ServiceNote's `member` (a MemberReference) says who the note is by; `createdBy`
    stays the API member that posted it."""
    client = await sim.client()
    notes = client.service.tickets.id(5002).notes
    body = {
        "text": "Rebuilt the profile.",
        "resolutionFlag": True,
        "member": {"identifier": "jsmith"},
    }

    note = await asyncio.to_thread(notes.post, body)

    assert (note.member.identifier, note.member.name) == ("jsmith", "John Smith")
    assert note.created_by == "fixpilot_api"


async def test_patch_the_status_and_read_it_back(sim: TlsSim):
    client = await sim.client()
    ticket_endpoint = client.service.tickets.id(5001)
    patch = [{"op": "replace", "path": "status", "value": {"id": HELP_DESK_RESOLVED}}]

    patched = await asyncio.to_thread(ticket_endpoint.patch, patch)
    read_back = await asyncio.to_thread(ticket_endpoint.get)

    assert patched.status.id == HELP_DESK_RESOLVED
    assert (read_back.status.id, read_back.status.name) == (HELP_DESK_RESOLVED, "Resolved")
    assert read_back.closed_flag is True and read_back.closed_date is not None
    assert read_back.info["updatedBy"] == "fixpilot_api"


async def test_duplicate_callback_is_object_exists_and_callbacks_list(sim: TlsSim):
    client = await sim.client()
    callbacks = client.system.callbacks

    created = await asyncio.to_thread(callbacks.post, dict(CALLBACK))
    # pyconnectwise raises ObjectExistsError only for ConnectWise's real shape: a 400
    # InvalidObject whose errors[] holds an ObjectExists entry.
    with pytest.raises(ObjectExistsError) as err:
        await asyncio.to_thread(callbacks.post, dict(CALLBACK))
    listed = await asyncio.to_thread(callbacks.get)

    assert isinstance(created, CallbackEntry) and created.id
    body = err.value.response.json()
    assert err.value.response.status_code == 400 and body["code"] == "InvalidObject"
    assert [e["code"] for e in body["errors"]] == ["ObjectExists"]
    assert [c.id for c in listed] == [created.id]
    (entry,) = listed
    assert (entry.url, entry.object_id, entry.type, entry.level) == (
        CALLBACK["url"],
        1,
        "Ticket",
        "Owner",
    )
    assert entry.inactive_flag is False and entry.member_id == 190


async def test_my_member_info_as_the_api_member(sim: TlsSim):
    client = await sim.client()

    info = await asyncio.to_thread(client.system.my_members.info.get)

    assert isinstance(info, MyMemberInfo)
    assert (info.identifier, info.full_name) == ("fixpilot_api", "Fixpilot API")
    assert info.default_email == "fixpilot@msp.example" and info.license_class == "A"


async def test_my_member_info_as_a_pod_member_with_the_member_hash(sim: TlsSim):
    client = await sim.client(DEMO_MEMBER, DEMO_MEMBER_HASH)  # Basic company+member:hash

    info = await asyncio.to_thread(client.system.my_members.info.get)

    assert (info.id, info.identifier, info.full_name) == (150, "jsmith", "John Smith")
    assert info.default_email == "jsmith@msp.example" and info.license_class == "F"
    assert info.default_location.id and info.default_department.identifier
    assert info.service_default_board.name == "Help Desk"


async def test_a_stale_member_hash_is_refused(sim: TlsSim):
    client = await sim.client(DEMO_MEMBER, "stale-hash")
    with pytest.raises(AuthenticationFailedException):
        await asyncio.to_thread(client.system.my_members.info.get)


async def test_hosted_screens(sim: TlsSim):
    client = await sim.client()

    screens = await asyncio.to_thread(client.system.connect_wise_hosted_screens.get)

    assert all(isinstance(s, ConnectWiseHostedScreen) for s in screens)
    by_name = {s.name: s for s in screens}
    assert by_name["Service Ticket"].id == SERVICE_TICKET_SCREEN_ID != 1
    assert by_name["Service Ticket"].screen_id
    assert len(screens) > 3


async def test_ticket_count_with_conditions(sim: TlsSim):
    client = await sim.client()
    count = client.service.tickets.count

    printers = await asyncio.to_thread(count.get, None, {"conditions": 'summary like "%printer%"'})
    open_help_desk = await asyncio.to_thread(
        count.get, None, {"conditions": "board/id=1 and closedFlag=False"}
    )
    everything = await asyncio.to_thread(count.get)

    assert isinstance(printers, Count) and printers.count == 1
    assert open_help_desk.count == 11
    assert everything.count == len(sim.state.tickets)


async def test_unknown_ticket_is_not_found(sim: TlsSim):
    client = await sim.client()
    with pytest.raises(NotFoundException) as err:
        await asyncio.to_thread(client.service.tickets.id(999).get)
    assert err.value.response.json() == {
        "code": "NotFound",
        "message": "Ticket ID 999 not found",
        "errors": None,
    }
