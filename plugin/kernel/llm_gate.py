"""The gate every LLM call passes: the request is scrubbed of the session's remembered
secrets (in every written form) and of secret-looking text, and so is the answer, streamed
or not. Whatever code builds a request, nothing it forgot to redact reaches the model, and a
model that repeats a secret does not get it into the chat or a note.

The session is the one named by `call_scope` (set around every call by its caller).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from plugin.kernel.appkeys import InstanceKeys
from plugin.kernel.db import Database
from plugin.kernel.llm import call_scope
from plugin.kernel.logging import scrub_logs_of
from plugin.kernel.redaction import KnownValues, known_values, redact_text
from plugin.kernel.secret_memory import recall
from providers.llm import LLMProvider, LLMRequest, LLMResult


class GuardedLLM:
    def __init__(self, inner: LLMProvider, database: Database, instance: InstanceKeys) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self._database = database
        self._instance = instance

    async def generate(self, request: LLMRequest) -> LLMResult:
        remembered = await self._remembered()
        result = await self.inner.generate(_scrubbed_request(request, remembered))
        return replace(result, text=_scrub(result.text, remembered))

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | LLMResult]:
        remembered = await self._remembered()
        holdback = StreamScrubber(remembered)
        async for item in self.inner.stream(_scrubbed_request(request, remembered)):
            if isinstance(item, LLMResult):
                tail = holdback.finish()
                if tail:
                    yield tail
                yield replace(item, text=_scrub(item.text, remembered))
            else:
                shown = holdback.feed(item)
                if shown:
                    yield shown

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _remembered(self) -> KnownValues:
        scope = call_scope.get()
        if scope.session_id is None or not self._instance.secret_key:
            return known_values([])
        box = self._instance.box()
        async with self._database.read() as db:
            remembered = known_values(await recall(db, box, scope.session_id))
        scrub_logs_of(remembered)
        return remembered


def _scrub(text: str, remembered: KnownValues) -> str:
    return redact_text(remembered.sub(text))


def _scrubbed_request(request: LLMRequest, remembered: KnownValues) -> LLMRequest:
    return replace(
        request,
        messages=[{**m, "content": _scrub(m["content"], remembered)} for m in request.messages],
        context=_scrub_data(request.context, remembered),
    )


def _scrub_data(value: Any, remembered: KnownValues) -> Any:
    if isinstance(value, str):
        return _scrub(value, remembered)
    if isinstance(value, Mapping):
        return {k: _scrub_data(v, remembered) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_data(v, remembered) for v in value]
    return value


class StreamScrubber:
    """Scrubs remembered values from a stream of deltas: the last characters are held
    back until the next delta (or the end) shows they don't start a secret."""

    def __init__(self, remembered: KnownValues) -> None:
        self._known = remembered
        self._buffer = ""

    def feed(self, delta: str) -> str:
        if self._known.pattern is None:
            return delta
        self._buffer += delta
        cut = max(0, len(self._buffer) - self._known.longest)
        for match in self._known.pattern.finditer(self._buffer):
            if match.start() < cut < match.end():
                cut = match.end()
        shown, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return self._known.sub(shown)

    def finish(self) -> str:
        rest, self._buffer = self._buffer, ""
        return self._known.sub(rest)
