"""The embedding model loads from its wheel without touching the network, and the LLM's
query expansion is one call per session state."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from plugin.features.search.documents import WorkDocument
from plugin.features.search.index import put_documents
from plugin.kernel.db import utcnow
from plugin.kernel.states import WorkOutcome, WorkSource
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, new_session

NO_NETWORK = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network is off in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
from plugin.features.search.vectors import DIMENSIONS, embed
vectors = embed(["emails sit in the outbox", "OST corrupted, send/receive error"])
assert vectors.shape == (2, DIMENSIONS), vectors.shape
assert attempts == [], attempts
print("loaded offline")
"""


def test_the_embedding_model_loads_from_its_wheel_without_the_network():
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded offline" in result.stdout


async def test_the_llm_expands_the_query_once_per_state(llm_client, llm_headers, fake_anthropic):
    async with db_of(llm_client).write() as tx:
        await put_documents(
            tx,
            1,
            [
                WorkDocument(
                    doc_key="ticket:4711",
                    source=WorkSource.HISTORY,
                    summary="OST corrupted, send/receive error 0x8004010F",
                    outcome=WorkOutcome.RESOLVED,
                    closed_at=utcnow() - timedelta(days=9),
                    psa_ticket_id=4711,
                    resolution="Rebuilt the OST with scanpst.",
                )
            ],
        )
    s = await new_session(llm_client, llm_headers, "mails stay put, never go")
    fake_anthropic.script(FakeAnthropic.text("OST, send/receive, outbox: sync\nignored line"))
    url = f"/api/v1/ai-sessions/{s['id']}/similar"

    first = await (await llm_client.get(url, headers=llm_headers)).json()
    assert first["expanded"] is True
    assert [i["ticket_id"] for i in first["items"]] == [4711]
    request = fake_anthropic.requests[-1]["body"]
    assert "mails stay put" in request["messages"][-1]["content"]
    assert len(fake_anthropic.requests) == 1

    again = await (await llm_client.get(url, headers=llm_headers)).json()
    assert again["items"] == first["items"] and len(fake_anthropic.requests) == 1

    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/facts",
        json={"text": "Outlook in offline mode"},
        headers=llm_headers,
    )
    assert resp.status == 201
    fake_anthropic.script(FakeAnthropic.text("outlook offline mode work offline"))
    await llm_client.get(url, headers=llm_headers)
    assert len(fake_anthropic.requests) == 2  # a new state, a new expansion


async def test_without_an_llm_the_query_is_not_expanded(client, engineer_headers):
    s = await new_session(client, engineer_headers, "mails stay put, never go")
    body = await (
        await client.get(f"/api/v1/ai-sessions/{s['id']}/similar", headers=engineer_headers)
    ).json()
    assert body["expanded"] is False and body["items"] == []
