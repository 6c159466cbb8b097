"""AnthropicProvider through the real `anthropic` SDK against the fake Messages API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from providers.llm.anthropic import JSON_INSTRUCTION, AnthropicProvider
from providers.llm.base import (
    CallRecord,
    LLMBadResponse,
    LLMRequest,
    LLMResult,
    LLMUnavailable,
)
from tests import fake_anthropic as fake_anthropic_module
from tests.fake_anthropic import FakeAnthropic

# The fixture, used here directly until conftest registers it for every module.
fake_anthropic = fake_anthropic_module.fake_anthropic

API_KEY = "sk-ant-test-secret-key"

CHAT = LLMRequest(
    kind="chat",
    system="You are Fixpilot.",
    messages=[{"role": "user", "content": "Outlook keeps crashing"}],
    max_tokens=300,
)

MakeProvider = Callable[..., AnthropicProvider]


@pytest.fixture
async def records() -> list[CallRecord]:
    return []


@pytest.fixture
async def make_provider(
    fake_anthropic: FakeAnthropic, records: list[CallRecord]
) -> AsyncIterator[MakeProvider]:
    """Providers on the fake server with test-sized waits; closed at teardown."""
    made: list[AnthropicProvider] = []

    def make(**overrides: object) -> AnthropicProvider:
        settings: dict[str, object] = {
            "model": "claude-test",
            "base_url": fake_anthropic.base_url,
            "timeout": 2.0,
            "max_attempts": 3,
            "max_total_seconds": 10.0,
            "max_retry_wait": 5.0,
            "retry_backoff": 0.01,
            "observer": records.append,
        }
        settings.update(overrides)
        provider = AnthropicProvider(API_KEY, **settings)  # type: ignore[arg-type]
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def collect(provider: AnthropicProvider, request: LLMRequest) -> list[str | LLMResult]:
    return [item async for item in provider.stream(request)]


# -- successful calls ---------------------------------------------------------------------


async def test_generate_returns_text_usage_and_records_the_call(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(
        FakeAnthropic.text(
            "Rebuild the Outlook profile.",
            usage={
                "input_tokens": 120,
                "output_tokens": 9,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
            },
        )
    )

    result = await make_provider().generate(CHAT)

    assert result.text == "Rebuild the Outlook profile."
    assert (result.model, result.generator) == ("claude-test", "anthropic")
    assert result.usage.input_tokens == 120
    assert result.usage.output_tokens == 9
    assert result.usage.cache_read_tokens == 100
    assert result.usage.cache_write_tokens == 20
    assert len(records) == 1
    record = records[0]
    assert (record.kind, record.model, record.generator) == ("chat", "claude-test", "anthropic")
    assert (record.outcome, record.error, record.attempts) == ("ok", None, 1)
    assert record.usage == result.usage
    assert record.latency_ms > 0


async def test_request_carries_model_messages_and_cached_system_block(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    await make_provider().generate(CHAT)

    [sent] = fake_anthropic.requests
    body = sent["body"]
    assert body["model"] == "claude-test"
    assert body["max_tokens"] == 300
    assert body["messages"] == [{"role": "user", "content": "Outlook keeps crashing"}]
    assert body["system"] == [
        {"type": "text", "text": "You are Fixpilot.", "cache_control": {"type": "ephemeral"}}
    ]
    assert not body.get("stream")


async def test_json_output_asks_for_json_and_unwraps_a_fenced_answer(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(FakeAnthropic.text('```json\n{"title": "Reset spooler"}\n```'))
    request = LLMRequest(
        kind="template_extraction",
        system="Extract a template.",
        messages=[{"role": "user", "content": "net stop spooler"}],
        json_output=True,
    )

    result = await make_provider().generate(request)

    assert result.text == '{"title": "Reset spooler"}'
    [system_block] = fake_anthropic.requests[0]["body"]["system"]
    assert system_block["text"].startswith("Extract a template.")
    assert system_block["text"].endswith(JSON_INSTRUCTION)
    assert system_block["cache_control"] == {"type": "ephemeral"}


# -- retries --------------------------------------------------------------------------------


async def test_rate_limit_waits_for_retry_after_then_succeeds(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(
        FakeAnthropic.error(429, headers={"retry-after": "1"}), FakeAnthropic.text("ok now")
    )

    result = await make_provider().generate(CHAT)

    assert result.text == "ok now"
    first, second = fake_anthropic.requests
    assert second["received_at"] - first["received_at"] >= 0.9
    assert [(r.outcome, r.attempts) for r in records] == [("ok", 2)]


async def test_retry_after_is_capped_by_max_retry_wait(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(
        FakeAnthropic.error(429, headers={"retry-after": "30"}), FakeAnthropic.text("ok")
    )

    started = time.monotonic()
    result = await make_provider(max_retry_wait=0.2).generate(CHAT)

    assert result.text == "ok"
    assert 0.15 <= time.monotonic() - started < 2


async def test_overloaded_529_is_retried(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(FakeAnthropic.error(529), FakeAnthropic.text("after overload"))

    result = await make_provider().generate(CHAT)

    assert result.text == "after overload"
    assert len(fake_anthropic.requests) == 2


async def test_permanent_500_gives_up_after_max_attempts(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(*[FakeAnthropic.error(500)] * 5)

    with pytest.raises(LLMUnavailable) as raised:
        await make_provider(max_attempts=3).generate(CHAT)

    assert len(fake_anthropic.requests) == 3
    assert API_KEY not in str(raised.value)
    [record] = records
    assert (record.outcome, record.error, record.attempts) == ("error", "InternalServerError", 3)


async def test_bad_request_is_not_retried(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(FakeAnthropic.error(400), FakeAnthropic.text("never sent"))

    with pytest.raises(LLMUnavailable):
        await make_provider().generate(CHAT)

    assert len(fake_anthropic.requests) == 1
    assert [(r.error, r.attempts) for r in records] == [("BadRequestError", 1)]


async def test_total_budget_stops_retrying_when_the_wait_would_exceed_it(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(FakeAnthropic.error(429, headers={"retry-after": "3"}))

    started = time.monotonic()
    with pytest.raises(LLMUnavailable):
        await make_provider(max_total_seconds=1.0).generate(CHAT)

    assert time.monotonic() - started < 0.9
    assert len(fake_anthropic.requests) == 1


async def test_hanging_server_times_out_each_attempt(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(FakeAnthropic.hang(), FakeAnthropic.hang())

    started = time.monotonic()
    with pytest.raises(LLMUnavailable):
        await make_provider(timeout=0.25, max_attempts=2).generate(CHAT)
    elapsed = time.monotonic() - started

    assert 0.45 <= elapsed < 2
    assert len(fake_anthropic.requests) == 2
    assert [(r.error, r.attempts) for r in records] == [("APITimeoutError", 2)]


# -- unusable answers -------------------------------------------------------------------------


async def test_malformed_body_is_a_bad_response_and_not_retried(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    # Documented choice: a 200 whose body is not a Message is LLMBadResponse, not retried.
    fake_anthropic.script(FakeAnthropic.malformed(), FakeAnthropic.text("never sent"))

    with pytest.raises(LLMBadResponse):
        await make_provider().generate(CHAT)

    assert len(fake_anthropic.requests) == 1
    assert [r.outcome for r in records] == ["error"]


async def test_json_of_the_wrong_shape_is_a_bad_response(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(FakeAnthropic.malformed('{"unexpected": true}'))

    with pytest.raises(LLMBadResponse):
        await make_provider().generate(CHAT)


async def test_empty_answer_is_a_bad_response(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(FakeAnthropic.text("", usage={"output_tokens": 0}))

    with pytest.raises(LLMBadResponse):
        await make_provider().generate(CHAT)

    assert [(r.outcome, r.error, r.usage.input_tokens) for r in records] == [
        ("error", "LLMBadResponse", 12)
    ]


# -- streaming ------------------------------------------------------------------------------


async def test_stream_yields_deltas_then_a_result_with_their_concatenation(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(
        FakeAnthropic.text(
            "Clear the print queue, then restart the spooler.",
            usage={"input_tokens": 50, "output_tokens": 11, "cache_read_input_tokens": 40},
        )
    )

    *deltas, result = await collect(make_provider(), CHAT)

    assert len(deltas) >= 3
    assert all(isinstance(d, str) and d for d in deltas)
    assert isinstance(result, LLMResult)
    assert result.text == "".join(deltas) == "Clear the print queue, then restart the spooler."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50, 11)
    assert result.usage.cache_read_tokens == 40
    assert fake_anthropic.requests[0]["body"]["stream"] is True
    assert fake_anthropic.requests[0]["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert [(r.outcome, r.usage.output_tokens) for r in records] == [("ok", 11)]


async def test_stream_retries_failures_before_the_first_delta(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(
        FakeAnthropic.error(529),
        FakeAnthropic.text("broken", fail_after_deltas=0),  # SSE error event before any text
        FakeAnthropic.text("third time lucky"),
    )

    *deltas, result = await collect(make_provider(), CHAT)

    assert "".join(deltas) == result.text == "third time lucky"
    assert len(fake_anthropic.requests) == 3
    assert [(r.outcome, r.attempts) for r in records] == [("ok", 3)]


async def test_stream_failing_after_deltas_raises_without_retry(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider, records: list[CallRecord]
) -> None:
    fake_anthropic.script(
        FakeAnthropic.text(
            "one two three four", chunks=["one ", "two ", "three ", "four"], fail_after_deltas=2
        ),
        FakeAnthropic.text("never sent"),
    )

    received: list[str | LLMResult] = []
    with pytest.raises(LLMUnavailable):
        async for item in make_provider().stream(CHAT):
            received.append(item)

    assert received == ["one ", "two "]
    assert len(fake_anthropic.requests) == 1
    assert [(r.outcome, r.error) for r in records] == [("error", "APIStatusError")]


async def test_stream_times_out_on_a_hanging_server(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    fake_anthropic.script(FakeAnthropic.hang())

    with pytest.raises(LLMUnavailable):
        await collect(make_provider(timeout=0.25, max_attempts=1), CHAT)


# -- observer -------------------------------------------------------------------------------


async def test_async_observer_is_awaited(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
) -> None:
    seen: list[CallRecord] = []

    async def observer(record: CallRecord) -> None:
        seen.append(record)

    fake_anthropic.script(FakeAnthropic.error(400))
    provider = make_provider(observer=observer)
    with pytest.raises(LLMUnavailable):
        await provider.generate(CHAT)
    await provider.generate(CHAT)

    assert [r.outcome for r in seen] == ["error", "ok"]


async def test_failing_observer_does_not_break_the_call(make_provider: MakeProvider) -> None:
    def observer(record: CallRecord) -> None:
        raise RuntimeError("metrics backend down")

    result = await make_provider(observer=observer).generate(CHAT)

    assert result.text
