"""The chat's context carries similar resolved tickets as evidence: what worked there and
what failed, named by ticket, so the assistant can say where a suggestion comes from."""

from __future__ import annotations

import json

from tests.fake_anthropic import FakeAnthropic
from tests.helpers import new_session
from tests.test_similar_work import close_session


async def test_the_chat_context_cites_what_worked_on_similar_tickets(
    llm_client, llm_headers, fake_anthropic
):
    fake_anthropic.default_text = "ok"
    await close_session(
        llm_client,
        llm_headers,
        "Outlook prompts for password again and again after mailbox migration",
        fixes=[
            ("Reset the Outlook profile", "applied_failed"),
            ("Clear cached credentials", "applied_success"),
        ],
        cause="Stale credentials in Credential Manager",
        resolution="Cleared cached credentials",
    )
    s = await new_session(llm_client, llm_headers, "Outlook keeps asking for the password")
    fake_anthropic.script(FakeAnthropic.text("Try clearing the cached credentials."))
    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "Outlook keeps prompting for the password since Monday"},
        headers=llm_headers,
    )
    assert resp.status == 200, await resp.text()
    prompt = json.dumps(fake_anthropic.requests[-1]["body"])
    assert "## Similar resolved tickets" in prompt
    assert "worked: Clear cached credentials" in prompt
    assert "failed: Reset the Outlook profile" in prompt
    assert "Use them as evidence" in json.dumps(fake_anthropic.requests[-1]["body"]["system"])


async def test_the_chat_answers_when_search_fails(
    llm_client, llm_headers, fake_anthropic, monkeypatch
):
    from plugin.features.chat import turn

    async def broken(*_args, **_kwargs):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(turn, "similar_for_prompt", broken)
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(FakeAnthropic.text("Here is what I would check."))
    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "printer down"},
        headers=llm_headers,
    )
    assert resp.status == 200, await resp.text()
    assert "## Similar resolved tickets\\nNone found." in json.dumps(
        fake_anthropic.requests[-1]["body"]
    )
