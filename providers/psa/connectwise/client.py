"""HTTP transport to the ConnectWise REST API: auth headers, rate limit, retries, errors.

Retry policy (DESIGN.md §6): only connection errors, timeouts, 429 and 502/503/504 are
retried, with bounded attempts, honouring `Retry-After` (capped at `max_retry_wait`).
Other 4xx are never retried. A 500 is reported as `PSAUnavailable` at once, without a retry:
ConnectWise 500s are usually a bad record or a server bug that a quick retry does not fix,
and the writeback outbox retries later anyway.

A POST is not idempotent (a second note would be posted), so it is retried only when the
request cannot have been applied: the connection was never established, or ConnectWise
answered 429/503. A timeout, a dropped connection, a 500, 502 or 504 on a POST raises
`PSAUnavailable(uncertain=True)`: the caller looks for the result before trying again.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from multidict import CIMultiDictProxy
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from providers.psa.base import (
    PSAAuthError,
    PSAError,
    PSANotFound,
    PSAPermissionError,
    PSARateLimited,
    PSAUnavailable,
    PSAValidationError,
)
from providers.psa.connectwise.config import ACCEPT_HEADER, ConnectWiseConfig

log = logging.getLogger(__name__)

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_GATEWAY_STATUSES = frozenset({502, 503, 504})
_NEXT_LINK = re.compile(r"""rel\s*=\s*"?next"?""", re.IGNORECASE)
# A guard against a server that always claims there is a next page.
_MAX_PAGES = 200


@dataclass(frozen=True)
class CWResponse:
    status: int
    headers: CIMultiDictProxy[str]
    data: Any  # parsed JSON, or None for an empty body


class _Transient(Exception):
    """A failure worth another attempt; `error` is what the caller gets if none succeeds."""

    def __init__(self, error: PSAError, retry_after: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class ConnectWiseClient:
    def __init__(self, config: ConnectWiseConfig, *, session: aiohttp.ClientSession | None = None):
        self._config = config
        self._session = session
        self._owns_session = session is None
        self._limiter = AsyncLimiter(config.rate_limit_per_minute, 60)

    @property
    def config(self) -> ConnectWiseConfig:
        return self._config

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        authorization: str | None = None,
        cookies: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> CWResponse:
        """Send one API call. `path` is relative to the API base, or an absolute URL.

        `authorization` overrides the API member's Basic auth, and `cookies` (the Hosted
        API's member cookies, values already cookie-safe) replace it: both verify a member.
        """
        method = method.upper()
        url = path if "://" in path else self._config.base_url + path.lstrip("/")
        headers = self._headers(authorization, cookies, json_body is not None)
        attempts = AsyncRetrying(
            stop=stop_after_attempt(self._config.max_attempts if retry else 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._log_retry(method, path),
            reraise=True,
        )
        try:
            async for attempt in attempts:
                with attempt:
                    return await self._attempt(method, url, params, json_body, headers)
        except _Transient as exc:
            raise exc.error from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def paginate(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int = 1000
    ) -> list[dict[str, Any]]:
        """All items of a list endpoint, following `page` until ConnectWise says no more."""
        items: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            response = await self.request(
                "GET", path, params={**(params or {}), "page": page, "pageSize": page_size}
            )
            batch = response.data if isinstance(response.data, list) else []
            items.extend(batch)
            link = response.headers.get("Link")
            has_next = bool(_NEXT_LINK.search(link)) if link else len(batch) >= page_size
            if not batch or not has_next:
                break
        return items

    def _headers(
        self, authorization: str | None, cookies: Mapping[str, str] | None, with_body: bool
    ) -> dict[str, str]:
        headers = {"clientId": self._config.client_id, "Accept": ACCEPT_HEADER}
        if cookies is not None:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        else:
            headers["Authorization"] = authorization or self._config.authorization
        if with_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No cookie jar: a cookie ConnectWise sets must never ride along on later calls.
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json_body: Any,
        request_headers: dict[str, str],
    ) -> CWResponse:
        idempotent = method in _IDEMPOTENT_METHODS
        await self._limiter.acquire()
        try:
            async with self._http().request(
                method,
                url,
                params=params,
                data=None if json_body is None else json.dumps(json_body),
                headers=request_headers,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout),
                # Credentials go to the account's ConnectWise host only, never where a
                # redirect points.
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientSSLError, aiohttp.InvalidURL) as exc:
            raise PSAUnavailable(f"cannot connect to ConnectWise: {exc}") from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never made, so nothing was sent: safe to retry any method.
            raise _Transient(PSAUnavailable(f"ConnectWise is unreachable: {exc}")) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else "dropped the connection"
            error = PSAUnavailable(f"ConnectWise {reason}", uncertain=not idempotent)
            if not idempotent:
                raise error from exc
            raise _Transient(error) from exc

        if 200 <= status < 300:
            return CWResponse(status, headers, _parse_json(body))
        raise _error_for(status, headers, _parse_json(body), idempotent)

    def _wait(self, state: RetryCallState) -> float:
        cap = self._config.max_retry_wait
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, cap)
        return min(self._config.retry_backoff * 2 ** (state.attempt_number - 1), cap)

    def _log_retry(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        shown_path = "<key url>" if "://" in path else path

        def log_it(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            error = exc.error if isinstance(exc, _Transient) else exc
            log.warning(
                "connectwise %s %s failed (%s); attempt %d, retrying in %.2fs",
                method,
                shown_path,
                getattr(error, "status", None) or type(error).__name__,
                state.attempt_number,
                state.upcoming_sleep,
            )

        return log_it


def _error_for(
    status: int, headers: CIMultiDictProxy[str], body: Any, idempotent: bool
) -> Exception:
    """The typed error for a non-2xx answer; wrapped in `_Transient` when worth retrying."""
    message, code = _cw_message(status, body)
    if status == 429:
        retry_after = _retry_after(headers)
        error = PSARateLimited(message, retry_after=retry_after, status=status, code=code)
        return _Transient(error, retry_after)
    if status in _GATEWAY_STATUSES:
        # 503 means ConnectWise refused the work; a 502/504 gateway may have passed it on.
        uncertain = not idempotent and status != 503
        error = PSAUnavailable(message, uncertain=uncertain, status=status, code=code)
        return error if uncertain else _Transient(error, _retry_after(headers))
    if status >= 500:
        return PSAUnavailable(message, uncertain=not idempotent, status=status, code=code)
    error_type = {
        401: PSAAuthError,
        403: PSAPermissionError,
        404: PSANotFound,
        400: PSAValidationError,
        409: PSAValidationError,
        422: PSAValidationError,
    }.get(status, PSAError)
    return error_type(message, status=status, code=code)


def _cw_message(status: int, body: Any) -> tuple[str, str | None]:
    """ConnectWise's own message and code from `{"code", "message", "errors"}`.

    A duplicate is sometimes reported as the top-level code and sometimes only inside
    `errors`; either way the code returned is "ObjectExists" so callers test one value.
    """
    if not isinstance(body, dict):
        return f"ConnectWise answered HTTP {status}", None
    code = body.get("code") if isinstance(body.get("code"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    details = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        if item.get("code") == "ObjectExists":
            code = "ObjectExists"
        if item.get("message"):
            field = item.get("field")
            details.append(f"{field}: {item['message']}" if field else str(item["message"]))
    text = message or f"ConnectWise answered HTTP {status}"
    if details:
        text = f"{text} ({'; '.join(details)})"
    return text, code


def _retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
