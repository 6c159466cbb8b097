"""Who wrote a note: recorded in Fixpilot (the writeback's created_by and author), and in
ConnectWise as the note's `member` when a ConnectWise member posted it."""

from __future__ import annotations

import aiohttp

from providers.psa.base import NoteKind
from providers.psa.connectwise import ConnectWiseConfig, ConnectWiseProvider
from providers.psa.simulator import DEMO_MEMBER, DEMO_MEMBER_HASH
from tests.helpers import new_session

TICKET = 5001
NOTE = "## Problem\nPrinting stopped.\n\n## Resolution\nRestarted the spooler.\n"


async def _pod_headers(client) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/pod/session", json={"member_id": DEMO_MEMBER, "member_hash": DEMO_MEMBER_HASH}
    )
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def _posted(cw_sim) -> dict:
    (note,) = [n for n in cw_sim.notes[TICKET] if n["text"].lstrip("# ").startswith("Problem\n")]
    return note


async def _resolve(client, headers, ticket=TICKET) -> dict:
    session = await new_session(client, headers, psa_ticket_id=ticket)
    resp = await client.post(
        f"/api/v1/ai-sessions/{session['id']}/resolution-note/post",
        json={"markdown": NOTE},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    return {"session": session, "result": await resp.json()}


async def test_a_members_note_is_theirs_in_connectwise_and_in_fixpilot(cw_client, cw_sim):
    headers = await _pod_headers(cw_client)

    posted = await _resolve(cw_client, headers)

    note = _posted(cw_sim)
    assert note["member"]["identifier"] == "jsmith"  # ConnectWise shows the note as theirs
    assert note["createdBy"] == cw_sim.api_member_id  # entered by the API member
    result = posted["result"]
    assert (result["created_by"], result["author_member_id"]) == ("jsmith", "jsmith")
    session = await (
        await cw_client.get(f"/api/v1/ai-sessions/{posted['session']['id']}", headers=headers)
    ).json()
    writeback = session["latest_writeback"]
    assert (writeback["created_by"], writeback["author_member_id"]) == ("jsmith", "jsmith")


async def test_an_api_tokens_note_is_the_api_members(cw_client, cw_engineer_headers, cw_sim):
    posted = await _resolve(cw_client, cw_engineer_headers)

    note = _posted(cw_sim)
    assert note["member"]["identifier"] == cw_sim.api_member_id
    result = posted["result"]
    assert result["created_by"].startswith("token:") and result["author_member_id"] is None


async def test_a_member_connectwise_refuses_still_gets_the_note_posted(cw_sim):
    provider = ConnectWiseProvider(cw_sim_config(cw_sim))
    try:
        note = await provider.add_note(TICKET, NOTE, NoteKind.RESOLUTION, author="left_company")
    finally:
        await provider.aclose()

    assert note.author == cw_sim.api_member_id  # posted, without the refused member
    assert _posted(cw_sim)["member"]["identifier"] == cw_sim.api_member_id
    posts = [r for r in cw_sim.requests if r == ("POST", f"service/tickets/{TICKET}/notes")]
    assert len(posts) == 2  # refused with the member (nothing stored), then posted without


async def test_the_simulated_screen_shows_who_the_note_is_by(cw_client, cw_sim):
    await _resolve(cw_client, await _pod_headers(cw_client))

    url = cw_sim.server.make_url(f"/_sim/ticket/{TICKET}/screen-data").with_query(member="jsmith")
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        notes = (await resp.json())["notes"]
    (ours,) = [n for n in notes if n["text"].lstrip("# ").startswith("Problem\n")]
    assert (ours["member"], ours["created_by"]) == ("John Smith", cw_sim.api_member_id)


def cw_sim_config(cw_sim) -> ConnectWiseConfig:
    return ConnectWiseConfig(
        api_url=cw_sim.api_url,
        company_id=cw_sim.company_id,
        public_key=cw_sim.public_key,
        private_key=cw_sim.private_key,
        client_id=cw_sim.client_id,
        retry_backoff=0.01,
    )
