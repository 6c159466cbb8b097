"""LLMProvider on Anthropic's Messages API, through `anthropic.AsyncAnthropic`.

Retries live here, once: the SDK client is built with `max_retries=0` and tenacity retries
transient failures (429, 5xx incl. 529 overloaded, connection errors, timeouts), honouring the
server's `retry-after`, within `max_attempts` and `max_total_seconds`. Every call, whatever
its outcome, is reported to the observer.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import structlog
from anthropic.lib.streaming import AsyncMessageStream
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from providers.llm.base import (
    CallObserver,
    CallRecord,
    LLMBadResponse,
    LLMError,
    LLMRequest,
    LLMResult,
    LLMUnavailable,
    Usage,
)
from providers.llm.observing import report_call

log = structlog.get_logger(__name__)

JSON_INSTRUCTION = (
    "Answer with exactly one JSON object: no text before or after it, no Markdown code fences."
)

# Error types Anthropic reports (also inside a 200 SSE stream) for conditions that pass.
TRANSIENT_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})

# The shortest per-attempt timeout we hand the SDK when the overall budget is nearly spent.
MIN_ATTEMPT_TIMEOUT = 0.05

_JSON_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same request may succeed."""
    if isinstance(exc, anthropic.APIStatusError):
        return (
            exc.status_code == 429
            or exc.status_code >= 500
            or getattr(exc, "type", None) in TRANSIENT_ERROR_TYPES
        )
    # APITimeoutError is an APIConnectionError; transport errors surface raw mid-stream.
    return isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The wait the server asked for (`retry-after-ms` or `retry-after`), if any."""
    response = getattr(exc, "response", None)
    if not isinstance(exc, anthropic.APIStatusError) or response is None:
        return None
    headers = response.headers
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


@dataclass
class _CallState:
    """What one generate/stream call has gathered so far, for its CallRecord."""

    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000


@dataclass
class _OpenStream:
    exits: AsyncExitStack
    stream: AsyncMessageStream[Any]
    texts: AsyncIterator[str]
    first_delta: str | None


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        model: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 4,
        max_total_seconds: float = 60.0,
        max_retry_wait: float = 20.0,
        retry_backoff: float = 1.0,
        observer: CallObserver | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.model = model
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_total_seconds = max_total_seconds
        self.max_retry_wait = max_retry_wait
        # First exponential backoff step (seconds) when the server gives no retry-after.
        self.retry_backoff = retry_backoff
        self.observer = observer
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def generate(self, request: LLMRequest) -> LLMResult:
        call = _CallState()
        try:
            message = await self._retrying()(self._create_once, request, call)
            call.usage = usage_of(message)
            text = answer_text(message)
            if request.json_output:
                text = strip_json_fence(text)
        except BaseException as exc:
            await self._report(request, call, exc)
            translated = translate_error(exc, call.attempts)
            if translated is exc:
                raise
            raise translated from exc
        await self._report(request, call, None)
        return self._result(text, call)

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | LLMResult]:
        call = _CallState()
        pieces: list[str] = []
        try:
            # Only opening the stream (up to its first text delta) is retried: once text has
            # reached the caller, a second attempt would repeat it.
            opened = await self._retrying()(self._open_stream, request, call)
            try:
                if opened.first_delta is not None:
                    pieces.append(opened.first_delta)
                    yield opened.first_delta
                async for delta in opened.texts:
                    pieces.append(delta)
                    yield delta
                message = await opened.stream.get_final_message()
            finally:
                await opened.exits.aclose()
            call.usage = usage_of(message)
            text = "".join(pieces)
            if not text.strip():
                raise LLMBadResponse("Anthropic API returned no text")
        except BaseException as exc:
            await self._report(request, call, exc)
            translated = translate_error(exc, call.attempts, partial=bool(pieces))
            if translated is exc:
                raise
            raise translated from exc
        await self._report(request, call, None)
        yield self._result(text, call)

    async def aclose(self) -> None:
        await self._client.close()

    # -- one attempt -----------------------------------------------------------------------

    async def _create_once(self, request: LLMRequest, call: _CallState) -> Any:
        call.attempts += 1
        return await self._client.messages.create(
            **self._message_params(request), timeout=self._attempt_timeout(call)
        )

    async def _open_stream(self, request: LLMRequest, call: _CallState) -> _OpenStream:
        call.attempts += 1
        exits = AsyncExitStack()
        try:
            stream = await exits.enter_async_context(
                self._client.messages.stream(
                    **self._message_params(request), timeout=self._attempt_timeout(call)
                )
            )
            texts = stream.text_stream
            first_delta = await anext(texts, None)
        except BaseException:
            await exits.aclose()
            raise
        return _OpenStream(exits, stream, texts, first_delta)

    def _message_params(self, request: LLMRequest) -> dict[str, Any]:
        system = request.system
        if request.json_output:
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m["role"], "content": m["content"]} for m in request.messages],
        }
        if system:
            # The system prompt is the stable prefix of every call of a kind: cache it.
            params["system"] = [
                {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
            ]
        return params

    def _attempt_timeout(self, call: _CallState) -> float:
        remaining = self.max_total_seconds - (time.monotonic() - call.started)
        return max(MIN_ATTEMPT_TIMEOUT, min(self.timeout, remaining))

    # -- retry policy ----------------------------------------------------------------------

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_seconds),
            wait=self._wait_before_retry,
            before_sleep=_log_retry,
            reraise=True,
        )

    def _wait_before_retry(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(failure)
        if asked is not None:
            return min(max(asked, 0.0), self.max_retry_wait)
        backoff = self.retry_backoff * 2 ** (state.attempt_number - 1)
        return min(self.max_retry_wait, backoff * random.uniform(0.5, 1.0))

    # -- reporting -------------------------------------------------------------------------

    def _result(self, text: str, call: _CallState) -> LLMResult:
        return LLMResult(
            text=text,
            usage=call.usage,
            model=self.model,
            generator=self.name,
            latency_ms=call.elapsed_ms(),
        )

    async def _report(
        self, request: LLMRequest, call: _CallState, error: BaseException | None
    ) -> None:
        await report_call(
            self.observer,
            CallRecord(
                kind=request.kind,
                model=self.model,
                generator=self.name,
                usage=call.usage,
                latency_ms=call.elapsed_ms(),
                outcome="ok" if error is None else "error",
                error=None if error is None else type(error).__name__,
                attempts=call.attempts,
            ),
        )


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    log.info(
        "llm_retry",
        generator="anthropic",
        attempt=state.attempt_number,
        error=type(failure).__name__,
        status=getattr(failure, "status_code", None),
        wait_seconds=round(state.upcoming_sleep, 3),
    )


def translate_error(exc: BaseException, attempts: int, *, partial: bool = False) -> BaseException:
    """The LLMError to raise for `exc`, or `exc` itself when it is not an LLM failure
    (cancellation, bugs). Messages name the failure, never request data or credentials."""
    if isinstance(exc, LLMError):
        return exc
    name = type(exc).__name__
    # A body the SDK could not decode (JSONDecodeError is a ValueError) or validate.
    if isinstance(exc, anthropic.APIResponseValidationError | ValueError):
        return LLMBadResponse(f"Anthropic API answered with a malformed body ({name})")
    if partial and isinstance(exc, anthropic.APIError | httpx2.TransportError):
        return LLMUnavailable(f"Anthropic stream broke off after a partial answer ({name})")
    if isinstance(exc, anthropic.APIStatusError):
        return LLMUnavailable(
            f"Anthropic API failed after {attempts} attempt(s): HTTP {exc.status_code} ({name})"
        )
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return LLMUnavailable(f"Anthropic API unreachable after {attempts} attempt(s) ({name})")
    return exc


def answer_text(message: Any) -> str:
    """The text blocks of a Message, joined; LLMBadResponse when there is none."""
    blocks = getattr(message, "content", None)
    if not isinstance(blocks, list):
        raise LLMBadResponse("Anthropic API answered without content blocks")
    text = "".join(
        block.text
        for block in blocks
        if getattr(block, "type", None) == "text" and isinstance(getattr(block, "text", None), str)
    )
    if not text.strip():
        raise LLMBadResponse("Anthropic API returned no text")
    return text


def usage_of(message: Any) -> Usage:
    usage = getattr(message, "usage", None)
    if usage is None:
        return Usage()
    return Usage(
        input_tokens=getattr(usage, "input_tokens", None) or 0,
        output_tokens=getattr(usage, "output_tokens", None) or 0,
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
    )


def strip_json_fence(text: str) -> str:
    """Models sometimes wrap JSON in a Markdown fence despite being told not to."""
    stripped = text.strip()
    fenced = _JSON_FENCE.match(stripped)
    return fenced.group(1) if fenced else stripped
