"""The LLM capability: one small interface that every LLM vendor package implements.

`providers` never imports `plugin`: anything the service wants to know about a call (for
its usage table, its metrics) reaches it through the `CallObserver` it passes in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class LLMRequest:
    """What to generate.

    `system` is the stable system prompt (providers that support it cache it);
    `messages` alternate user/assistant and end with a user message;
    `context` is structured data for providers that compose answers without a model
    (the offline provider); remote providers ignore it.
    """

    kind: str
    system: str
    messages: list[dict[str, str]]
    max_tokens: int = 1024
    json_output: bool = False
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LLMResult:
    text: str
    usage: Usage
    model: str
    generator: str  # "anthropic" | "offline" | ...: which generator produced the text
    latency_ms: float = 0.0


@dataclass(frozen=True)
class CallRecord:
    """One finished call, successful or not, as reported to the observer."""

    kind: str
    model: str
    generator: str
    usage: Usage
    latency_ms: float
    outcome: Literal["ok", "error"]
    error: str | None = None
    attempts: int = 1


CallObserver = Callable[[CallRecord], Awaitable[None] | None]


class LLMError(Exception):
    """Any failure of the LLM provider."""


class LLMUnavailable(LLMError):
    """The provider could not answer after its retries (down, overloaded, timing out)."""


class LLMBadResponse(LLMError):
    """The provider answered with something unusable (empty, malformed)."""


@runtime_checkable
class LLMProvider(Protocol):
    name: str
    model: str

    async def generate(self, request: LLMRequest) -> LLMResult:
        """Return the whole answer. Raises LLMUnavailable / LLMBadResponse."""

    def stream(self, request: LLMRequest) -> AsyncIterator[str | LLMResult]:
        """Yield text deltas as they arrive, then exactly one final LLMResult (full text)."""

    async def aclose(self) -> None: ...
