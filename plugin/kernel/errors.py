"""The one JSON error shape of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class BadGateway(ApiError):
    status, code = 502, "psa_error"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(error_body(code, message, details), status=status, headers=headers)


def validation_details(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """pydantic errors → {"fields": {"a.b": "message", ...}}."""
    fields: dict[str, str] = {}
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or "body"
        fields.setdefault(loc, err.get("msg", "invalid").removeprefix("Value error, "))
    return {"fields": fields}
