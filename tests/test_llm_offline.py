"""OfflineProvider: deterministic template proposals without a model, and the registry."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from providers.llm import (
    LLM_PROVIDERS,
    OfflineProvider,
    build_llm_provider,
    register_llm_provider,
)
from providers.llm.anthropic import AnthropicProvider
from providers.llm.base import CallRecord, LLMBadResponse, LLMRequest, LLMResult, Usage
from providers.llm.offline import CONFIDENCE_CAP

MARKER = re.compile(r"\[SUGGEST_FIX\](.*?)\[/SUGGEST_FIX\]", re.DOTALL)


def param(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "required": False,
        "default": None,
        "choices": None,
        "sensitive": False,
        "description": "",
        **extra,
    }


SPOOLER = {
    "id": 7,
    "name": "Reset print spooler",
    "description": "Stops the spooler service, clears stuck jobs and starts it again.",
    "keywords": ["print queue", "spooler", "printer"],
    "language": "powershell",
    "parameters_schema": [
        param("computer_name", required=True),
        param("clear_jobs", type="bool", default=True),
        param("admin_password", sensitive=True, default="hunter2"),
    ],
}
OUTLOOK = {
    "id": 3,
    "name": "Rebuild Outlook profile",
    "description": "Creates a fresh Outlook profile for a user whose Outlook crashes.",
    "keywords": ["outlook", "profile", "crash"],
    "language": "powershell",
    "parameters_schema": [param("username", required=True), param("profile_name", default="New")],
}
DRIVES = {
    "id": 12,
    "name": "Remap network drives",
    "description": "Maps the standard network drives for a user again.",
    "keywords": ["mapped drive", "network drive"],
    "language": "powershell",
    "parameters_schema": [],
}
LIBRARY = [OUTLOOK, SPOOLER, DRIVES]


def chat(*user_messages: str, templates: list[dict[str, Any]] = LIBRARY) -> LLMRequest:
    messages: list[dict[str, str]] = []
    for text in user_messages:
        if messages:
            messages.append({"role": "assistant", "content": "Tell me more."})
        messages.append({"role": "user", "content": text})
    return LLMRequest(
        kind="chat", system="ignored offline", messages=messages, context={"templates": templates}
    )


def suggestion_in(text: str) -> dict[str, Any]:
    [block] = MARKER.findall(text)
    return json.loads(block)


async def test_proposes_the_best_matching_template() -> None:
    result = await OfflineProvider().generate(chat("user can't print, print queue stuck"))

    assert result.text.startswith("Fixpilot is running offline")
    suggestion = suggestion_in(result.text)
    assert suggestion["template_id"] == 7
    assert suggestion["title"] == "Reset print spooler"
    # The summary says what the script does; how it matched is for the chat only.
    assert (
        suggestion["summary"] == "Stops the spooler service, clears stuck jobs and starts it again."
    )
    visible = MARKER.sub("", result.text)
    assert '"print", "queue"' in visible
    assert 0 < suggestion["confidence"] <= CONFIDENCE_CAP < 100
    # Defaults are drafted; a sensitive parameter never is, even with a default.
    assert suggestion["parameters"] == {"clear_jobs": True}
    assert (result.generator, result.model, result.usage) == ("offline", "offline", Usage())


async def test_same_input_gives_the_same_reply() -> None:
    provider = OfflineProvider()
    request = chat("Outlook crashes when it starts", "also the mapped drive is gone")

    first = await provider.generate(request)
    second = await provider.generate(request)

    assert first.text == second.text


async def test_no_marker_when_nothing_matches() -> None:
    result = await OfflineProvider().generate(chat("the coffee machine makes a strange noise"))

    assert "[SUGGEST_FIX]" not in result.text
    assert "offline" in result.text
    assert "No library template matched" in result.text
    assert "error text" in result.text


async def test_no_marker_without_templates() -> None:
    result = await OfflineProvider().generate(chat("print queue stuck", templates=[]))

    assert "[SUGGEST_FIX]" not in result.text


async def test_runner_up_templates_are_named_in_the_text() -> None:
    result = await OfflineProvider().generate(
        chat("Outlook crashes on start, the profile looks broken, and the network drive too")
    )

    suggestion = suggestion_in(result.text)
    assert suggestion["template_id"] == 3
    visible = MARKER.sub("", result.text)
    assert "Remap network drives" in visible


async def test_the_latest_message_decides_and_the_conversation_is_the_fallback() -> None:
    latest = await OfflineProvider().generate(
        chat("Outlook crashes on start, the profile looks broken", "now the network drive is gone")
    )
    assert "Remap" in suggestion_in(latest.text)["title"]
    fallback = await OfflineProvider().generate(
        chat("Outlook crashes on start, the profile looks broken", "that didn't help")
    )
    assert suggestion_in(fallback.text)["template_id"] == 3


async def test_a_keyword_outweighs_a_name_word_which_outweighs_a_description_word() -> None:
    def template(template_id: int, name: str, description: str, keywords: list[str]) -> dict:
        return {
            **DRIVES,
            "id": template_id,
            "name": name,
            "description": description,
            "keywords": keywords,
        }

    by_keyword = template(1, "Client fix", "Repairs the client.", ["vpn"])
    by_name = template(2, "Tunnel cleanup", "Cleans up.", [])
    by_description = template(3, "Session reset", "For remote sessions.", [])

    result = await OfflineProvider().generate(
        chat("vpn tunnel remote", templates=[by_description, by_name, by_keyword])
    )

    assert suggestion_in(result.text)["template_id"] == 1
    visible = MARKER.sub("", result.text)
    assert "Tunnel cleanup" in visible
    # One description word alone is too weak to mention.
    assert "Session reset" not in visible


async def test_a_good_track_record_breaks_a_tie() -> None:
    twin_a = {**DRIVES, "id": 20, "name": "Fix mapped drive A"}
    twin_b = {
        **DRIVES,
        "id": 21,
        "name": "Fix mapped drive B",
        "track_record": {"worked": 9, "failed": 1},
    }

    result = await OfflineProvider().generate(
        chat("my mapped drive is missing", templates=[twin_a, twin_b])
    )

    assert suggestion_in(result.text)["template_id"] == 21


async def test_explicit_host_and_user_are_drafted_as_parameters() -> None:
    result = await OfflineProvider().generate(
        chat("Outlook crashes at start. username is jdoe", "host: PC-042")
    )
    outlook = suggestion_in(result.text)
    assert outlook["parameters"] == {"username": "jdoe", "profile_name": "New"}

    result = await OfflineProvider().generate(chat("print queue stuck, computer name: PC-042"))
    assert suggestion_in(result.text)["parameters"]["computer_name"] == "PC-042"


async def test_unknown_kind_is_refused_and_recorded() -> None:
    records: list[CallRecord] = []
    request = LLMRequest(kind="resolution_note", system="", messages=[])

    with pytest.raises(LLMBadResponse, match="no composer for kind resolution_note"):
        await OfflineProvider(observer=records.append).generate(request)

    assert [(r.kind, r.outcome, r.error) for r in records] == [
        ("resolution_note", "error", "LLMBadResponse")
    ]


async def test_stream_yields_chunks_then_the_whole_reply() -> None:
    records: list[CallRecord] = []
    provider = OfflineProvider(observer=records.append)

    *chunks, result = [item async for item in provider.stream(chat("print queue stuck"))]

    assert len(chunks) >= 2
    assert isinstance(result, LLMResult)
    assert "".join(chunks) == result.text
    assert [(r.generator, r.model, r.outcome, r.usage) for r in records] == [
        ("offline", "offline", "ok", Usage())
    ]


async def test_async_observer_receives_a_record() -> None:
    seen: list[CallRecord] = []

    async def observer(record: CallRecord) -> None:
        seen.append(record)

    await OfflineProvider(observer=observer).generate(chat("hello"))

    assert [(r.kind, r.outcome, r.attempts) for r in seen] == [("chat", "ok", 1)]


# -- registry --------------------------------------------------------------------------------


async def test_build_picks_anthropic_with_a_key_and_offline_without() -> None:
    settings = {"model": "claude-test", "base_url": "http://127.0.0.1:9", "timeout": 5.0}

    online = build_llm_provider(api_key="sk-test", observer=None, **settings)
    offline = build_llm_provider(api_key=None, observer=None, **settings)

    assert isinstance(online, AnthropicProvider)
    assert (online.model, online.timeout) == ("claude-test", 5.0)
    assert isinstance(offline, OfflineProvider)
    await online.aclose()


async def test_registered_factory_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # Restores the original entry after the test.
    monkeypatch.setitem(LLM_PROVIDERS, "offline", LLM_PROVIDERS["offline"])
    built: list[dict[str, Any]] = []

    def factory(**settings: Any) -> OfflineProvider:
        built.append(settings)
        return OfflineProvider()

    register_llm_provider("offline", factory)
    build_llm_provider(api_key=None, model="m", base_url=None, timeout=1.0, observer=None)

    assert built == [
        {"api_key": None, "model": "m", "base_url": None, "timeout": 1.0, "observer": None}
    ]
