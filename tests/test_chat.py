"""The assistant's chat turn through the real Anthropic SDK and the fake Messages API."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from plugin.features.sessions.models import Message
from plugin.kernel.llm import LLMCall
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, insert_fix, new_session, state_version

SUGGEST_1 = '[SUGGEST_FIX]{"title": "Flush DNS", "summary": "stale cache", "confidence": 40, "script": "ipconfig /flushdns"}[/SUGGEST_FIX]'
SUGGEST_2 = '[SUGGEST_FIX]{"title": "Restart spooler", "summary": "queue stuck", "confidence": 180, "script": "Restart-Service Spooler"}[/SUGGEST_FIX]'


async def _say(client, headers, sid, content, **extra):
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": content, **extra}, headers=headers
    )


async def test_round_trip_sends_cached_system_prompt_and_stores_last_suggestion(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(
        FakeAnthropic.text(f"Two ideas.\n{SUGGEST_1}\nActually the spooler.\n{SUGGEST_2}")
    )
    resp = await _say(llm_client, llm_headers, s["id"], "Nobody can print, queue is stuck")
    body = await resp.json()
    assert resp.status == 200, body

    request = fake_anthropic.requests[-1]["body"]
    system = request["system"]
    assert isinstance(system, list) and system[0]["cache_control"] == {"type": "ephemeral"}
    assert "[SUGGEST_FIX]" in system[0]["text"] and "[FIX_OUTCOME]" in system[0]["text"]
    assert request["messages"][-1]["role"] == "user"
    assert "Nobody can print" in request["messages"][-1]["content"]

    assert body["suggested_fix"]["title"] == "Restart spooler"
    assert body["suggested_fix"]["confidence"] == 100
    assert "[SUGGEST_FIX]" not in body["assistant_message"]["content"]
    assert "Actually the spooler." in body["assistant_message"]["content"]
    assert body["state_version"] == 3  # the engineer's message, then the reply

    fixes = await (
        await llm_client.get(f"/api/v1/ai-sessions/{s['id']}/suggested-fixes", headers=llm_headers)
    ).json()
    assert [f["title"] for f in fixes["items"]] == ["Restart spooler"]
    messages = await (
        await llm_client.get(f"/api/v1/ai-sessions/{s['id']}/messages", headers=llm_headers)
    ).json()
    assert all("SUGGEST_FIX" not in m["content"] for m in messages["items"])

    async with db_of(llm_client).read() as db:
        call = (await db.execute(select(LLMCall))).scalars().one()
    assert call.kind == "chat" and call.outcome == "ok" and call.session_id == s["id"]
    assert call.input_tokens > 0


async def test_new_suggestion_supersedes_the_active_fix(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(FakeAnthropic.text(SUGGEST_1), FakeAnthropic.text(SUGGEST_2))
    await _say(llm_client, llm_headers, s["id"], "first")
    await _say(llm_client, llm_headers, s["id"], "that didn't apply, try another")
    fixes = (
        await (
            await llm_client.get(
                f"/api/v1/ai-sessions/{s['id']}/suggested-fixes", headers=llm_headers
            )
        ).json()
    )["items"]
    assert [f["title"] for f in fixes] == ["Restart spooler", "Flush DNS"]
    assert fixes[0]["superseded_at"] is None and fixes[1]["superseded_at"] is not None
    active = await (
        await llm_client.get(
            f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/active", headers=llm_headers
        )
    ).json()
    assert active["title"] == "Restart spooler"


async def test_outcome_marker_moves_the_active_fix(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fix_id = await insert_fix(llm_client, s["id"])
    fake_anthropic.script(
        FakeAnthropic.text(
            'Good to hear it is waiting on the reboot.\n[FIX_OUTCOME]{"outcome": "applied_pending", '
            '"pending_reason": "user reboots tonight"}[/FIX_OUTCOME]'
        )
    )
    body = await (
        await _say(llm_client, llm_headers, s["id"], "Applied, user will reboot tonight")
    ).json()
    assert body["fix_outcome"] == {
        "fix_id": fix_id,
        "outcome": "applied_pending",
        "applied": True,
        "ignored_reason": None,
    }
    active = await (
        await llm_client.get(
            f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/active", headers=llm_headers
        )
    ).json()
    assert active["status"] == "applied_pending"
    assert active["pending_reason"] == "user reboots tonight"
    assert active["applied_at"] is not None and active["verified_at"] is None
    assert "FIX_OUTCOME" not in body["assistant_message"]["content"]


async def test_illegal_outcome_marker_is_ignored(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    await insert_fix(llm_client, s["id"], status="applied_success")
    fake_anthropic.script(
        FakeAnthropic.text('[FIX_OUTCOME]{"outcome": "applied_failed"}[/FIX_OUTCOME]Noted.')
    )
    resp = await _say(llm_client, llm_headers, s["id"], "it broke again")
    body = await resp.json()
    assert resp.status == 200
    assert body["fix_outcome"]["applied"] is False
    fixes = (
        await (
            await llm_client.get(
                f"/api/v1/ai-sessions/{s['id']}/suggested-fixes", headers=llm_headers
            )
        ).json()
    )["items"]
    assert fixes[0]["status"] == "applied_success"


async def test_429_then_200_is_retried(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(
        FakeAnthropic.error(429, headers={"retry-after": "0"}), FakeAnthropic.text("Try this.")
    )
    resp = await _say(llm_client, llm_headers, s["id"], "hello")
    assert resp.status == 200
    assert (await resp.json())["assistant_message"]["content"] == "Try this."
    assert len(fake_anthropic.requests) == 2


async def test_permanent_500_is_503_and_the_message_is_kept_then_retry(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(*[FakeAnthropic.error(500)] * 3)
    resp = await _say(llm_client, llm_headers, s["id"], "VPN drops every 10 minutes")
    body = await resp.json()
    assert resp.status == 503
    assert body["error"]["code"] == "llm_unavailable"
    message_id = body["error"]["details"]["user_message_id"]
    assert len(fake_anthropic.requests) == 3

    fake_anthropic.script(FakeAnthropic.text("Check the IKE lifetime."))
    resp = await _say(llm_client, llm_headers, s["id"], "", retry_of=message_id)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["user_message"]["id"] == message_id
    assert body["assistant_message"]["reply_to_id"] == message_id

    async with db_of(llm_client).read() as db:
        count = (
            await db.execute(
                select(func.count()).select_from(Message).where(Message.role == "user")
            )
        ).scalar()
    assert count == 1
    resp = await _say(llm_client, llm_headers, s["id"], "", retry_of=message_id)
    assert resp.status == 409


async def test_streaming_never_shows_markers_and_ends_with_the_json_object(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    reply = f"Restart the spooler, then test a page.\n{SUGGEST_2}"
    fake_anthropic.script(
        FakeAnthropic.text(reply, chunks=[reply[i : i + 7] for i in range(0, len(reply), 7)])
    )
    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "queue stuck"},
        headers={**llm_headers, "Accept": "text/event-stream"},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = _sse(await resp.text())
    deltas = "".join(d["text"] for e, d in events if e == "delta")
    assert "SUGGEST" not in deltas and "[" not in deltas
    assert deltas == "Restart the spooler, then test a page."
    assert len([e for e, _ in events if e == "delta"]) > 1
    final = [d for e, d in events if e == "done"][0]
    assert final["assistant_message"]["content"] == deltas
    assert final["suggested_fix"]["title"] == "Restart spooler"
    assert final["state_version"] == await state_version(llm_client, llm_headers, s["id"])


async def test_streaming_failure_is_an_error_event_and_keeps_the_message(
    llm_client, llm_headers, fake_anthropic
):
    s = await new_session(llm_client, llm_headers)
    fake_anthropic.script(*[FakeAnthropic.error(529)] * 3)
    resp = await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "hello"},
        headers={**llm_headers, "Accept": "text/event-stream"},
    )
    events = _sse(await resp.text())
    error = [d for e, d in events if e == "error"][0]
    assert error["error"]["code"] == "llm_unavailable"
    messages = await (
        await llm_client.get(f"/api/v1/ai-sessions/{s['id']}/messages", headers=llm_headers)
    ).json()
    assert [m["content"] for m in messages["items"]] == ["hello"]


async def test_history_is_bounded_by_the_token_budget(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    from plugin.features.sessions.models import Message as M

    async with db_of(llm_client).write() as db:
        for i in range(3000):
            db.add(
                M(
                    session_id=s["id"],
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"message {i} " + "x" * 200,
                )
            )
    await _say(llm_client, llm_headers, s["id"], "latest question")
    sent = fake_anthropic.requests[-1]["body"]["messages"]
    total = sum(len(m["content"]) for m in sent)
    assert total < 6000 * 4 + 5000  # the budget plus the session context block
    assert "latest question" in sent[-1]["content"]
    assert [m["role"] for m in sent][0] == "user"
    assert all(a["role"] != b["role"] for a, b in zip(sent, sent[1:], strict=False))


async def test_secrets_in_messages_do_not_reach_the_llm(llm_client, llm_headers, fake_anthropic):
    s = await new_session(llm_client, llm_headers)
    await llm_client.post(
        f"/api/v1/ai-sessions/{s['id']}/facts",
        json={"text": "SQL connection string has password=Hunter2! in it"},
        headers=llm_headers,
    )
    await _say(llm_client, llm_headers, s["id"], "I ran net user bob S3cretPass! /domain")
    raw = json.dumps(fake_anthropic.requests[-1]["body"])
    assert "Hunter2!" not in raw and "S3cretPass!" not in raw
    assert "[REDACTED]" in raw


async def test_offline_assistant_answers_without_an_api_key(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    resp = await _say(client, engineer_headers, s["id"], "The print queue is stuck")
    body = await resp.json()
    assert resp.status == 200
    assert "offline" in body["assistant_message"]["content"].lower()
    assert body["assistant_message"]["generator"] == "offline"


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_offline_assistant_matches_the_engineers_words_only(
    client, admin_headers, engineer_headers
):
    """The prompt's context lists templates; the offline match must not match their own
    descriptions back, only what the engineer wrote."""
    import json as _json
    from pathlib import Path

    import plugin.features.scripts

    library = _json.loads(
        (Path(plugin.features.scripts.__file__).parent / "library.json").read_text()
    )
    for template in library:
        spec = {
            k: template[k]
            for k in (
                "slug",
                "name",
                "description",
                "keywords",
                "language",
                "body",
                "parameters_schema",
            )
        }
        assert (
            await client.post("/api/v1/scripts/templates", json=spec, headers=admin_headers)
        ).status == 201
    s = await new_session(client, engineer_headers)
    body = await (
        await _say(
            client,
            engineer_headers,
            s["id"],
            "Outlook keeps crashing on start, the profile looks corrupt",
        )
    ).json()
    assert "outlook" in body["suggested_fix"]["title"].lower()
    body = await (
        await _say(
            client,
            engineer_headers,
            s["id"],
            "Users on the front desk can't print, the print queue is stuck",
        )
    ).json()
    assert "spooler" in body["suggested_fix"]["title"].lower()
