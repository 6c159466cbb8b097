"""The chat route: one assistant turn, as JSON or as server-sent events."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web

from plugin.features.chat.markers import MarkerStreamFilter
from plugin.features.chat.schemas import MessageCreate, TurnOut
from plugin.features.chat.turn import PreparedTurn, begin_turn, finish_turn
from plugin.kernel.errors import ApiError, ServiceUnavailable, error_body
from plugin.kernel.http import Req, RouteTable, to_json
from plugin.kernel.llm import CallScope, call_scope
from providers.llm import LLMError, LLMResult

routes = RouteTable("chat")
log = structlog.get_logger("fixpilot.chat")


@routes.post(
    "/api/v1/ai-sessions/{session_id}/messages",
    summary="Send the engineer's message and get the assistant's reply (JSON, or SSE with "
    "Accept: text/event-stream: `delta` events, then `done` carrying this same object)",
    body=MessageCreate,
    response=TurnOut,
    errors=(404, 409, 503),
    extra_responses={"text/event-stream": {"schema": {"type": "string"}}},
)
async def post_message(req: Req[MessageCreate, Any]) -> TurnOut | web.StreamResponse:
    prepared = await begin_turn(
        req.database,
        req.instance.box(),
        req.settings.chat_history_token_budget,
        req.caller,
        req.path_int("session_id"),
        req.body,
    )
    call_scope.set(CallScope(prepared.account_id, prepared.session_id))
    if "text/event-stream" in req.request.headers.get("Accept", ""):
        return await _stream(req, prepared)
    try:
        result = await req.llm.generate(prepared.request)
    except LLMError as exc:
        raise _llm_unavailable(prepared, exc) from None
    return await finish_turn(req.database, prepared, result.text, result.generator)


def _llm_unavailable(prepared: PreparedTurn, exc: LLMError) -> ServiceUnavailable:
    return ServiceUnavailable(
        "The assistant is unavailable right now. Your message is saved; send it again "
        "with retry_of to get an answer.",
        code="llm_unavailable",
        details={"user_message_id": prepared.user_message.id, "reason": type(exc).__name__},
    )


async def _stream(req: Req, prepared: PreparedTurn) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(req.request)
    await _send(response, "accepted", {"user_message_id": prepared.user_message.id})
    shown = MarkerStreamFilter()
    result: LLMResult | None = None
    try:
        async for item in req.llm.stream(prepared.request):
            if isinstance(item, LLMResult):
                result = item
                continue
            text = shown.feed(item)
            if text:
                await _send(response, "delta", {"text": text})
        tail = shown.finish()
        if tail:
            await _send(response, "delta", {"text": tail})
        if result is None:
            raise _llm_unavailable(prepared, LLMError("stream ended without a result"))
        turn = await finish_turn(req.database, prepared, result.text, result.generator)
        await _send(response, "done", to_json(turn))
    except LLMError as exc:
        err = _llm_unavailable(prepared, exc)
        await _send(response, "error", error_body(err.code, err.message, err.details))
    except ApiError as exc:
        await _send(response, "error", error_body(exc.code, exc.message, exc.details))
    except ConnectionResetError:
        log.info("chat_stream_client_gone", user_message_id=prepared.user_message.id)
        return response
    except Exception:
        # The stream is already open: the client gets an error event, never a cut-off.
        log.exception("chat_stream_failed", user_message_id=prepared.user_message.id)
        await _send(
            response,
            "error",
            error_body(
                "internal_error",
                "Something went wrong on our side; your message is saved, retry it.",
                {"user_message_id": prepared.user_message.id},
            ),
        )
    await response.write_eof()
    return response


async def _send(response: web.StreamResponse, event: str, data: Any) -> None:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    await response.write(f"event: {event}\ndata: {payload}\n\n".encode())
