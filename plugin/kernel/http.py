"""Thin HTTP adapters: a route table that parses, authorises and serialises for handlers,
and records enough about each route to generate the OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from plugin.kernel.appkeys import DATABASE, INSTANCE, LLM, METRICS, PSA, SETTINGS, InstanceKeys
from plugin.kernel.db import Database
from plugin.kernel.errors import BadRequest, Unprocessable, validation_details
from plugin.kernel.metrics import Metrics
from plugin.kernel.psa import PSAConnections
from plugin.kernel.settings import Settings
from providers.llm import LLMProvider

Auth = Literal["public", "engineer", "admin"]
MAX_ID = 2**63 - 1  # ids are BIGINT: beyond this, 404/422, never a driver overflow
# An id is written one way: "01", "+1", " 1" or "1_0" name no row.
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def _canonical_id(value: Any) -> Any:
    if isinstance(value, str) and not _CANONICAL_ID.fullmatch(value):
        raise ValueError("must be an id: digits without a sign, spaces or leading zeros")
    return value


RowId = Annotated[int, BeforeValidator(_canonical_id), Field(ge=1, le=MAX_ID)]
B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token of an account, with its role."""

    account_id: int
    account_slug: str
    role: str  # TokenRole: admin | engineer
    token_id: int
    kind: str  # TokenKind: api | pod
    member_id: str | None = None

    @property
    def actor(self) -> str:
        return self.member_id or f"token:{self.token_id}"


@dataclass
class Req(Generic[B, Q]):
    """What a handler gets: the raw request, who is calling, the parsed body and query, and
    typed access to the application's resources."""

    request: web.Request
    principal: Principal | None
    body: B
    query: Q

    @property
    def account_id(self) -> int:
        assert self.principal is not None
        return self.principal.account_id

    @property
    def caller(self) -> Principal:
        assert self.principal is not None
        return self.principal

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def database(self) -> Database:
        return self.request.app[DATABASE]

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    @property
    def psa(self) -> PSAConnections:
        return self.request.app[PSA]

    @property
    def llm(self) -> LLMProvider:
        return self.request.app[LLM]

    @property
    def metrics(self) -> Metrics:
        return self.request.app[METRICS]

    @property
    def instance(self) -> InstanceKeys:
        return self.request.app[INSTANCE]

    def path_int(self, name: str) -> int:
        raw = self.request.match_info[name]
        # int() would also take "+1", "01", "1_0" and other scripts' digits.
        if not _CANONICAL_ID.fullmatch(raw):
            raise NotFoundPath(name)
        value = int(raw)
        if value > MAX_ID:
            raise NotFoundPath(name)
        return value


class NotFoundPath(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


@dataclass
class RouteSpec:
    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]
    summary: str
    auth: Auth
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    tag: str
    errors: tuple[int, ...] = ()
    raw: bool = False  # handler returns its own web.StreamResponse (docs only)
    extra_responses: dict[str, Any] = field(default_factory=dict)


class RouteTable:
    """One per concept module; `plugin.app` registers them all."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        auth: Auth = "engineer",
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        extra_responses: dict[str, Any] | None = None,
        tag: str | None = None,
    ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        def decorator(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            self.specs.append(
                RouteSpec(
                    method=method.upper(),
                    path=path,
                    handler=fn,
                    summary=summary,
                    auth=auth,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    tag=tag or self.tag,
                    errors=errors,
                    extra_responses=extra_responses or {},
                )
            )
            return fn

        return decorator

    def get(self, path: str, **kw: Any):
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any):
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any):
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any):
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any):
        return self.route("DELETE", path, **kw)


class _Empty(BaseModel):
    pass


EMPTY = _Empty()


async def parse_json_body(request: web.Request, model: type[B]) -> B:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiTooLarge()
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiTooLarge()
    if not raw.strip():
        # The body is documented as required: an empty one is a mistake, not "defaults".
        raise Unprocessable(
            "The request body is required: a JSON object ({} takes every default).",
            details={"fields": {"body": "required"}},
        )
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # incl. over-long numbers, deep nesting
        reason = str(exc) if isinstance(exc, json.JSONDecodeError) else "too deep or too long"
        raise BadRequest(
            f"The request body is not valid JSON: {reason}", code="malformed_json"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    refused = storable_problems(data)
    if refused:
        raise Unprocessable("The request body is not valid.", details={"fields": refused})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(
            "The request body is not valid.", details=validation_details(exc.errors())
        ) from None


class ApiTooLarge(BadRequest):
    status, code = 413, "body_too_large"

    def __init__(self) -> None:
        super().__init__(f"The request body is larger than {MAX_BODY_BYTES} bytes.")


def parse_query(request: web.Request, model: type[Q]) -> Q:
    refused = storable_problems(dict(request.query))
    for name, value in request.query.items():
        # An id in a query string is written one way, as in a path.
        if name.endswith("_id") and name not in refused and not _CANONICAL_ID.fullmatch(value):
            refused[name] = "must be an id: digits without a sign, spaces or leading zeros"
    if refused:
        raise Unprocessable("The query string is not valid.", details={"fields": refused})
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise Unprocessable(
            "The query string is not valid.", details=validation_details(exc.errors())
        ) from None


# What PostgreSQL refuses to store (in text and in JSONB alike): NUL and lone UTF-16
# surrogates (JSON's "\ud800" decodes to one). SQLite would take them; both answer alike.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT_RANGE = (-(2**63), 2**63 - 1)  # BIGINT: a larger JSON number can't be stored or compared


def storable_problems(value: Any, path: str = "") -> dict[str, str]:
    """{"field.path": why} for every string (keys included) or integer in a parsed JSON value
    that no database column could take."""
    problems: dict[str, str] = {}
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            problems[path or "body"] = "must not contain NUL or unpaired surrogate characters"
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            problems[path or "body"] = "is out of range (64-bit integers only)"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                where = f"{path}.{key!r}" if path else repr(key)
                problems[where] = "this key must not contain NUL or unpaired surrogate characters"
                continue
            problems.update(storable_problems(item, where))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.update(storable_problems(item, f"{path}.{index}" if path else str(index)))
    return problems


def to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def json_response(value: Any, status: int = 200) -> web.Response:
    if isinstance(value, BaseModel):  # serialised by pydantic-core in one step
        body = value.model_dump_json().encode()
        return web.Response(
            body=body, status=status, content_type="application/json", charset="utf-8"
        )
    return web.json_response(to_json(value), status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
