"""Prometheus metrics, one registry per application (tests build many apps).

The backlog gauges are set at scrape time from the database (features.operations.backlog),
so every replica reports the same, global values: alert on max() across replicas.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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

        # Incremented where sign-in is refused (the pod's member verification).
        self.signin_failures = Counter(
            "fixpilot_signin_failures_total",
            "Pod sign-in attempts refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        # Incremented by callback intake each time it fetches a signing key from the PSA.
        self.signing_key_fetches = Counter(
            "fixpilot_signing_key_fetches_total",
            "Callback signing-key fetches from the PSA, by result",
            ["result"],
            registry=self.registry,
        )
        self.backlog_read_at = float("-inf")  # time.monotonic() of the last backlog read
        self.backlog_up = Gauge(
            "fixpilot_backlog_scrape_ok",
            "1 when the backlog gauges below were read from the database at this scrape",
            registry=self.registry,
        )
        self.backlog = {name: self._backlog_pair(name, text) for name, text in BACKLOG.items()}

    def _backlog_pair(self, name: str, help_text: str) -> tuple[Gauge, Gauge]:
        return (
            Gauge(f"fixpilot_{name}", help_text, registry=self.registry),
            Gauge(
                f"fixpilot_{name}_oldest_age_seconds",
                f"Age in seconds of the oldest of: {help_text.lower()} (0 when none)",
                registry=self.registry,
            ),
        )

    def set_backlog(self, name: str, count: int, oldest_age_seconds: float) -> None:
        total, oldest = self.backlog[name]
        total.set(count)
        oldest.set(max(oldest_age_seconds, 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


# The backlog gauges: fixpilot_<name> (how many) and fixpilot_<name>_oldest_age_seconds.
BACKLOG = {
    "callback_events_pending": "Callback events stored and not yet processed, all accounts",
    "callback_events_dead": "Callback events given up on (dead-lettered), all accounts",
    "writebacks_open": "Writebacks not done nor cancelled, all accounts",
    "writebacks_stuck": "Writebacks waiting to retry, failed, or held past their lease",
}
