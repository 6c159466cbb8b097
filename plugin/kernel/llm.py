"""The service's LLM: built from settings, every call recorded in `llm_calls` and metrics."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, Database, UTCDateTime, utcnow
from plugin.kernel.metrics import Metrics
from plugin.kernel.settings import Settings
from plugin.kernel.states import LLMCallOutcome, values
from providers.llm import CallRecord, LLMProvider, build_llm_provider

log = structlog.get_logger("fixpilot.llm")


@dataclass(frozen=True)
class CallScope:
    account_id: int | None = None
    session_id: int | None = None


# Set around an LLM call by the code that makes it, so the record names who it was for.
NO_SCOPE = CallScope()
call_scope: ContextVar[CallScope] = ContextVar("llm_call_scope", default=NO_SCOPE)  # noqa: B039


class LLMCall(Base):
    """One call to an LLM provider: what it cost and how it went."""

    __tablename__ = "llm_calls"
    __table_args__ = (CheckConstraint(f"outcome IN {values(LLMCallOutcome)!r}", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_sessions.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    generator: Mapped[str] = mapped_column(String(32))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
            async with self.db.write() as tx:
                tx.add(
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


def build_llm(settings: Settings, database: Database, metrics: Metrics) -> LLMProvider:
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    provider = build_llm_provider(
        api_key=key,
        model=settings.llm_model,
        base_url=settings.anthropic_base_url,
        timeout=settings.llm_timeout_seconds,
        observer=CallRecorder(database, metrics),
        max_attempts=settings.llm_max_attempts,
        retry_backoff=settings.llm_retry_backoff_seconds,
        max_total_seconds=settings.llm_max_total_seconds,
    )
    log.info("llm_provider", generator=provider.name, model=provider.model)
    return provider
