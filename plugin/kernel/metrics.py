"""Prometheus metrics, one registry per application (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fixpilot_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fixpilot_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
        )
        self.llm_calls = Counter(
            "fixpilot_llm_calls_total",
            "LLM calls by kind, generator and outcome",
            ["kind", "generator", "outcome"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "fixpilot_llm_tokens_total",
            "LLM tokens by direction",
            ["kind", "direction"],
            registry=self.registry,
        )
        self.background = Counter(
            "fixpilot_background_items_total",
            "Background work items (writebacks, callback events) by worker and result",
            ["worker", "result"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
