"""structlog for everything, stdlib loggers included; JSON in production, console on a TTY.

Every line is scrubbed before it is written: secret-looking text (the redaction detectors),
and the values the current task's session remembers once an LLM call has recalled them
(`scrub_logs_of`). A log is an output like any other."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import structlog

from plugin.kernel.redaction import KnownValues, redact_text

_REMEMBERED: ContextVar[KnownValues | None] = ContextVar("log_scrub_values", default=None)
_REQUESTS = logging.getLogger("fixpilot.http")
_requests_fallback = structlog.get_logger("fixpilot.http")
_fast_json = False  # configure_logging("json") turns on log_request's pre-rendered lines
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def configure_logging(fmt: str | None = None, level: str = "info") -> None:
    if fmt is None:
        fmt = "console" if sys.stderr.isatty() else "json"
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # plain tracebacks: a rich one prints local variables, which may hold secrets
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    global _fast_json
    _fast_json = fmt == "json"
    formatter = _Formatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrub_secrets,
            renderer,
        ],
    )
    # Nothing rendered here reads a record's thread, process or calling frame (structlog
    # renders its own fields): not collecting them halves what a line costs (the request
    # line: 46 -> 23 us).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs duplicate our request log line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for noisy in ("httpx", "httpcore", "anthropic._base_client", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def scrub_logs_of(remembered: KnownValues) -> None:
    """From now on in this task, log lines are scrubbed of these values too."""
    _REMEMBERED.set(remembered)


def scrub_secrets(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    remembered = _REMEMBERED.get()
    return {key: _scrubbed(value, remembered) for key, value in event_dict.items()}


def _scrubbed(value: Any, remembered: KnownValues | None) -> Any:
    if isinstance(value, str):
        return redact_text(remembered.sub(value) if remembered else value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v, remembered) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v, remembered) for v in value]
    return value


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, passing through the lines `log_request` rendered itself."""

    def format(self, record: logging.LogRecord) -> str:
        line = record.__dict__.get("fixpilot_line")
        return line if line is not None else super().format(record)


def log_request(
    method: str, route: str, status: int, ms: float, request_id: str, *, client_id: bool
) -> None:
    """The one line per request, built without structlog's processors: every field is ours
    (the route is the matched template, the method one of METHODS) except a request id the
    client sent, which is scrubbed like any text it sends."""
    if not _REQUESTS.isEnabledFor(logging.INFO):
        return
    if client_id:
        request_id = redact_text(request_id)
    if method not in METHODS:
        method = "OTHER"
    fields = {"method": method, "route": route, "status": status, "ms": ms}
    if not _fast_json:  # the console (a terminal) or structlog's defaults (tests)
        _requests_fallback.info("request", **fields)
        return
    line = json.dumps(
        {
            "request_id": request_id,
            **fields,
            "event": "request",
            "level": "info",
            "logger": "fixpilot.http",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )
    _REQUESTS.info("request", extra={"fixpilot_line": line})
