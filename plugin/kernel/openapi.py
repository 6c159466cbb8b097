"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from plugin.kernel.http import MAX_ID, RouteSpec

_PATH_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "Not allowed for this role",
    404: "Not found",
    409: "State conflict",
    413: "Body too large",
    422: "Validation error",
    429: "Too many requests",
    502: "PSA error",
    503: "Dependency unavailable",
}


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_of(arg)]


def build_openapi(specs: list[RouteSpec], *, title: str, version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorEnvelope}
    for spec in specs:
        for candidate in (spec.body, spec.query, spec.response):
            if candidate is not None:
                models.update(_models_of(candidate))
    ordered = sorted(models, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "serialization") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        path = _PATH_PARAM.sub(r"{\1}", spec.path)
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(spec: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{spec.method.lower()}_{spec.handler.__name__}",
        "summary": spec.summary,
        "tags": [spec.tag],
        "responses": {},
    }
    params = _parameters(spec)
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(spec.body)}},
        }
    if spec.auth != "public":
        op["security"] = [{"bearer": []}]
    op["responses"][str(spec.status)] = _response(spec)
    for status in sorted(_error_statuses(spec)):
        op["responses"][str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": _ref(ErrorEnvelope)}},
        }
    return op


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if name.endswith("_id")
            else {"type": "string"},
        }
        for name in _PATH_PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        qschema = spec.query.model_json_schema()
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _error_statuses(spec: RouteSpec) -> set[int]:
    errors = set(spec.errors)
    if _PATH_PARAM.search(spec.path):
        errors |= {404}  # no such object (or not the caller's account's)
    if spec.body is not None:
        errors |= {400, 413, 422}
    if spec.query is not None:
        errors |= {422}
    if spec.auth != "public":
        errors |= {401, 503}  # 503: the database is unavailable
    if spec.auth == "admin":
        errors |= {403}
    return errors


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response(spec: RouteSpec) -> dict[str, Any]:
    desc = _STATUS_TEXT.get(spec.status, "OK")
    if spec.status == 204 or spec.response is None:
        return {"description": desc}
    if isinstance(spec.response, str):  # a non-JSON media type, e.g. "text/plain"
        return {"description": desc, "content": {spec.response: {"schema": {"type": "string"}}}}
    if isinstance(spec.response, type) and issubclass(spec.response, BaseModel):
        schema: dict[str, Any] = _ref(spec.response)
    else:
        schema = TypeAdapter(spec.response).json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)
    content = {"application/json": {"schema": schema}}
    content.update(spec.extra_responses)
    return {"description": desc, "content": content}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    error: ErrorDetail
