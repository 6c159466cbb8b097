"""The simulator as the demo runs it: a ticket list linking each ticket with its pod, and
its records kept in a file after every change (so an abrupt stop loses nothing)."""

from __future__ import annotations

import html

import aiohttp

from providers.psa.connectwise.config import basic_authorization
from providers.psa.simulator import SimulatorState, create_simulator_app
from providers.psa.simulator.records import SERVICE_TICKET_SCREEN_ID

POD = "http://fixpilot.test/pod?id=[cw_id]&screen=[cw_screen]"


async def _started(aiohttp_server, state: SimulatorState, **options):
    server = await aiohttp_server(create_simulator_app(state, **options))
    state.site_url = str(server.make_url("")).rstrip("/")
    return server


async def _get_text(server, path: str, **query) -> tuple[int, str, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url(path).with_query(query)) as resp,
    ):
        return resp.status, await resp.text(), dict(resp.headers)


async def test_the_ticket_list_links_each_ticket_with_the_registered_pod(aiohttp_server):
    state = SimulatorState.demo()
    state.add_hosted_setup(
        {"description": "Fixpilot", "screenId": SERVICE_TICKET_SCREEN_ID, "url": POD, "type": "Pod"}
    )
    server = await _started(aiohttp_server, state)

    status, page, headers = await _get_text(server, "/_sim/tickets")

    assert status == 200 and "script-src" not in headers["Content-Security-Policy"]
    for ticket_id, ticket in state.tickets.items():
        assert f'<a href="/_sim/ticket/{ticket_id}">#{ticket_id}</a>' in page
        assert html.escape(ticket["summary"]) in page
    assert f"Each ticket opens with the pod {html.escape(POD)}" in page
    # The linked screen frames that pod, for the ticket.
    status, screen, _ = await _get_text(server, "/_sim/ticket/5001")
    assert (
        status == 200
        and 'data-pod-url="http://fixpilot.test/pod?id=5001&amp;screen=ticket"' in screen
    )


async def test_the_ticket_list_passes_a_given_pod_and_member_on(aiohttp_server):
    server = await _started(aiohttp_server, SimulatorState.demo())

    status, empty, _ = await _get_text(server, "/_sim/tickets")
    assert status == 200 and "No pod is registered on the Service Ticket screen" in empty

    _, page, _ = await _get_text(server, "/_sim/tickets", pod=POD, member="jsmith")
    assert (
        '<a href="/_sim/ticket/5001?pod=http%3A%2F%2Ffixpilot.test%2Fpod%3Fid%3D%5Bcw_id%5D'
        '%26screen%3D%5Bcw_screen%5D&amp;member=jsmith">#5001</a>' in page
    )


async def test_every_change_is_saved_at_once(aiohttp_server, tmp_path):
    state_file = tmp_path / "sim.json"
    state = SimulatorState.demo()
    server = await _started(aiohttp_server, state, state_file=state_file)
    headers = {
        "clientId": state.client_id,
        "Authorization": basic_authorization(state.company_id, state.public_key, state.private_key),
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{state.api_url}service/tickets/5001/notes",
            json={"text": "Replaced the fuser.", "resolutionFlag": True},
            headers=headers,
        ) as resp:
            assert resp.status == 201
            note_id = (await resp.json())["id"]
        # What was saved is what a restarted simulator starts from (nothing was stopped).
        saved = SimulatorState.load(state_file)
        assert note_id in [n["id"] for n in saved.notes[5001]]
        async with http.get(f"{state.api_url}service/tickets/5001", headers=headers) as resp:
            assert resp.status == 200
        unchanged = state_file.stat().st_mtime_ns
        async with http.post(
            f"{state.api_url}service/tickets/5001/notes", json={"text": ""}, headers=headers
        ) as resp:
            assert resp.status == 400  # refused: nothing to save
    assert state_file.stat().st_mtime_ns == unchanged
    assert saved.next_id == state.next_id
    await server.close()
