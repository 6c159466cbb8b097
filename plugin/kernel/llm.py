"""The service's LLM: built from settings, every call recorded in `llm_calls` and metrics."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import structlog

from plugin.db import Database
from plugin.llm.models import LLMCall
from plugin.metrics import Metrics
from providers.llm import CallRecord, LLMProvider, build_llm_provider

log = structlog.get_logger("fixpilot.llm")


@dataclass(frozen=True)
class CallScope:
    account_id: int | None = None
    session_id: int | None = None


# Set around an LLM call by the code that makes it, so the record names who it was for.
NO_SCOPE = CallScope()
call_scope: ContextVar[CallScope] = ContextVar("llm_call_scope", default=NO_SCOPE)  # noqa: B039


class CallRecorder:
    def __init__(self, db: Database, metrics: Metrics) -> None:
        self.db = db
        self.metrics = metrics

    async def __call__(self, record: CallRecord) -> None:
        scope = call_scope.get()
        self.metrics.llm_calls.labels(record.kind, record.generator, record.outcome).inc()
        self.metrics.llm_tokens.labels(record.kind, "input").inc(record.usage.input_tokens)
        self.metrics.llm_tokens.labels(record.kind, "output").inc(record.usage.output_tokens)
        try:
            async with self.db.write() as session:
                session.add(
                    LLMCall(
                        account_id=scope.account_id,
                        session_id=scope.session_id,
                        kind=record.kind,
                        model=record.model,
                        generator=record.generator,
                        input_tokens=record.usage.input_tokens,
                        output_tokens=record.usage.output_tokens,
                        cache_read_tokens=record.usage.cache_read_tokens,
                        cache_write_tokens=record.usage.cache_write_tokens,
                        latency_ms=record.latency_ms,
                        attempts=record.attempts,
                        outcome=record.outcome,
                        error=record.error,
                    )
                )
        except Exception:
            # Usage accounting must not fail the engineer's request; the log keeps it.
            log.warning("llm_call_not_recorded", kind=record.kind, exc_info=True)


def build_llm(services) -> LLMProvider:
    settings = services.settings
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    provider = build_llm_provider(
        api_key=key,
        model=settings.llm_model,
        base_url=settings.anthropic_base_url,
        timeout=settings.llm_timeout_seconds,
        observer=CallRecorder(services.db, services.metrics),
        max_attempts=settings.llm_max_attempts,
        retry_backoff=settings.llm_retry_backoff_seconds,
        max_total_seconds=settings.llm_max_total_seconds,
    )
    log.info("llm_provider", generator=provider.name, model=provider.model)
    return provider
