"""A fake Anthropic Messages API for tests, served by aiohttp on loopback.

Tests script the answers in order (`fake.script(...)`); when the queue is empty the fake
answers `default_text`. It speaks enough of the real wire format (Message JSON, the SSE event
sequence of `"stream": true`, Anthropic error bodies, `retry-after`) for the real SDK to accept
it, so providers are exercised through `anthropic.AsyncAnthropic` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class TextAnswer:
    text: str
    usage: Mapping[str, int]
    # For streamed requests: the deltas to send (default: the text cut in a few pieces),
    # and after how many deltas to break off with an SSE `error` event (None: never).
    chunks: tuple[str, ...] | None = None
    fail_after_deltas: int | None = None


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    headers: Mapping[str, str]
    error_type: str
    message: str


@dataclass(frozen=True)
class HangAnswer:
    seconds: float


@dataclass(frozen=True)
class MalformedAnswer:
    body: str
    content_type: str
    status: int


ScriptedAnswer = TextAnswer | ErrorAnswer | HangAnswer | MalformedAnswer

DEFAULT_USAGE = {
    "input_tokens": 12,
    "output_tokens": 7,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
}


@dataclass
class FakeAnthropic:
    default_text: str = "This is the fake Anthropic answer."
    # Filled in by the `fake_anthropic` fixture once the server listens.
    base_url: str = ""
    # Every request received, in order: {"body": parsed JSON, "headers": {...},
    # "received_at": time.monotonic()}.
    requests: list[dict[str, Any]] = field(default_factory=list)
    _queue: deque[ScriptedAnswer] = field(default_factory=deque)
    _release_hangs: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/v1/messages", self._messages)

    # -- scripting -------------------------------------------------------------------------

    def script(self, *answers: ScriptedAnswer) -> None:
        """Queue answers; each request consumes the next one."""
        self._queue.extend(answers)

    @staticmethod
    def text(
        text: str,
        *,
        usage: Mapping[str, int] | None = None,
        chunks: list[str] | None = None,
        fail_after_deltas: int | None = None,
    ) -> TextAnswer:
        return TextAnswer(
            text=text,
            usage={**DEFAULT_USAGE, **(usage or {})},
            chunks=tuple(chunks) if chunks is not None else None,
            fail_after_deltas=fail_after_deltas,
        )

    @staticmethod
    def error(
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        error_type: str | None = None,
        message: str = "scripted failure",
    ) -> ErrorAnswer:
        return ErrorAnswer(
            status=status,
            headers=dict(headers or {}),
            error_type=error_type or ERROR_TYPES.get(status, "api_error"),
            message=message,
        )

    @staticmethod
    def hang(seconds: float = 30.0) -> HangAnswer:
        """Accept the request and answer nothing for `seconds` (released at teardown)."""
        return HangAnswer(seconds=seconds)

    @staticmethod
    def malformed(
        body: str = '{"id": "msg_broken", "content": [', *, content_type: str = "application/json"
    ) -> MalformedAnswer:
        return MalformedAnswer(body=body, content_type=content_type, status=200)

    def release_hangs(self) -> None:
        self._release_hangs.set()

    # -- serving ---------------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            {"body": body, "headers": dict(request.headers), "received_at": time.monotonic()}
        )
        answer = self._queue.popleft() if self._queue else self.text(self.default_text)

        if isinstance(answer, HangAnswer):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release_hangs.wait(), answer.seconds)
            answer = self.text(self.default_text)
        if isinstance(answer, ErrorAnswer):
            return web.json_response(
                {
                    "type": "error",
                    "error": {"type": answer.error_type, "message": answer.message},
                },
                status=answer.status,
                headers=answer.headers,
            )
        if isinstance(answer, MalformedAnswer):
            return web.Response(
                text=answer.body, status=answer.status, content_type=answer.content_type
            )
        if body.get("stream"):
            return await self._stream_text(request, body, answer)
        return web.json_response(self._message(body, answer.text, answer.usage))

    def _message(self, body: Mapping[str, Any], text: str, usage: Mapping[str, int]) -> dict:
        return {
            "id": f"msg_fake_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake-model"),
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": dict(usage),
        }

    async def _stream_text(
        self, request: web.Request, body: Mapping[str, Any], answer: TextAnswer
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        async for event, data in self._sse_events(body, answer):
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response

    async def _sse_events(
        self, body: Mapping[str, Any], answer: TextAnswer
    ) -> AsyncIterator[tuple[str, dict]]:
        start = self._message(body, "", {**answer.usage, "output_tokens": 1})
        yield "message_start", {"type": "message_start", "message": start}
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        yield "ping", {"type": "ping"}
        chunks = answer.chunks if answer.chunks is not None else split_in_chunks(answer.text)
        for sent, chunk in enumerate(chunks):
            if answer.fail_after_deltas is not None and sent >= answer.fail_after_deltas:
                yield (
                    "error",
                    {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                    },
                )
                return
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": chunk},
                },
            )
            # Let each delta leave as its own network write, as a real stream does.
            await asyncio.sleep(0)
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": answer.usage["output_tokens"]},
            },
        )
        yield "message_stop", {"type": "message_stop"}


def split_in_chunks(text: str, pieces: int = 4) -> list[str]:
    """Cut `text` into up to `pieces` consecutive non-empty parts."""
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture
async def fake_anthropic(aiohttp_server) -> AsyncIterator[FakeAnthropic]:
    """A running FakeAnthropic; point the SDK at `fake_anthropic.base_url`."""
    fake = FakeAnthropic()
    server = await aiohttp_server(fake.app)
    fake.base_url = str(server.make_url("")).rstrip("/")
    yield fake
    # Hanging handlers would otherwise hold the server's shutdown.
    fake.release_hangs()
