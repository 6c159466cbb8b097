"""Request id and logging, metrics, the JSON error shape for everything, security headers."""

from __future__ import annotations

import itertools
import os
import re
import time

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from plugin.kernel.errors import ApiError, error_response
from plugin.kernel.http import NotFoundPath
from plugin.kernel.logging import log_request
from plugin.kernel.metrics import Metrics

log = structlog.get_logger("fixpilot.http")
REQUEST_ID = web.RequestKey("request_id", str)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_middlewares(metrics: Metrics) -> list:
    return [_request_context(metrics), json_errors]


def _request_context(metrics: Metrics):
    """A request id bound for the logs, a log line and metrics per request."""
    # The metric children of each (method, route, status), looked up once: `labels()` checks
    # and locks on every call.
    children: dict[tuple[str, str, int], tuple] = {}

    def observe(method: str, route: str, status: int, elapsed: float) -> None:
        key = (method, route, status)
        pair = children.get(key)
        if pair is None:
            pair = children[key] = (
                metrics.requests.labels(method, route, str(status)),
                metrics.latency.labels(method, route),
            )
        pair[0].inc()
        pair[1].observe(elapsed)

    @web.middleware
    async def request_context(request: web.Request, handler):
        incoming = request.headers.get("X-Request-ID", "")
        client_id = bool(_SAFE_ID.match(incoming))
        request_id = incoming if client_id else _new_request_id()
        request[REQUEST_ID] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(request)
            observe(request.method, route, status, elapsed)
            if route not in ("/healthz", "/metrics"):
                log_request(
                    request.method,
                    route,
                    status,
                    round(elapsed * 1000, 1),
                    request_id,
                    client_id=client_id,
                )

    return request_context


# Unique across replicas (a random prefix per process) without a uuid4 per request.
_ID_PREFIX = os.urandom(6).hex()
_ids = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):08x}"


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except NotFoundPath as exc:
        return error_response(404, "not_found", f"No such {exc.name}: it must be an id.")
    except web.HTTPMethodNotAllowed as exc:
        allowed = sorted(exc.allowed_methods)
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; use {', '.join(allowed)}.",
            {"allowed": allowed},
            headers={"Allow": ",".join(allowed)},
        )
    except web.HTTPNotFound:
        return error_response(404, "not_found", f"No route for {request.method} {request.path}.")
    except RequestPayloadError:
        return error_response(
            400, "malformed_body", "The request body could not be read (bad encoding?)."
        )
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", "The request body is too large.")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except ConnectionResetError:
        raise  # the client went away: nothing to answer, not a dependency failure
    except (OperationalError, PoolTimeout, OSError, DBAPIError) as exc:
        # The database (or another dependency's socket) is down or locked: report it,
        # never pretend; the caller can retry.
        log.error("dependency_unavailable", error=type(exc).__name__, exc_info=True)
        return error_response(
            503,
            "database_unavailable",
            "The database is unavailable right now; try again shortly.",
            headers={"Retry-After": "2"},
        )
    except Exception:
        log.exception("unhandled_error")
        return error_response(
            500,
            "internal_error",
            "Something went wrong on our side. Quote the request id when reporting it.",
            {"request_id": request.get(REQUEST_ID)},
        )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
