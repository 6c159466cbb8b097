"""The HTTP contract's foundation: errors, auth, health, metrics, OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path

from plugin.app import route_tables
from tests.helpers import resources_of


async def test_healthz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    assert resp.headers["X-Request-ID"]


async def test_readyz_reports_the_migration_head(client):
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["database"] == "ok"
    from plugin.kernel.migrate import head_revision

    assert body["migration"] == head_revision()


async def test_readyz_is_503_when_migrations_are_behind(
    aiohttp_client, make_settings, database_factory
):
    from plugin.app import create_app

    url = await database_factory.empty()
    from plugin.kernel.migrate import upgrade

    await upgrade(url, "0001")
    client = await aiohttp_client(create_app(make_settings(database_url=url)))
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["error"]["code"] == "migrations_pending"
    assert body["error"]["details"]["current"] == "0001"


async def test_unknown_route_is_json_404(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    body = await resp.json()
    assert body["error"]["code"] == "not_found"
    assert "message" in body["error"]


async def test_wrong_method_is_json_405(client):
    resp = await client.delete("/healthz")
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    assert resp.headers["Allow"] == "GET,HEAD"


async def test_request_id_is_echoed_when_safe(client):
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert resp.headers["X-Request-ID"] != "bad id with spaces"


async def test_metrics_count_requests_by_route_and_status(client):
    await client.get("/healthz")
    await client.get("/nope")
    text = await (await client.get("/metrics")).text()
    assert 'fixpilot_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "fixpilot_http_request_duration_seconds_bucket" in text


async def test_openapi_lists_every_route(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    registered = {
        (spec.method.lower(), spec.path) for table in route_tables() for spec in table.specs
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert registered == documented
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.method != "HEAD"
    }
    assert served == documented
    # Every $ref resolves.
    schemas = doc["components"]["schemas"]
    import json
    import re

    for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)):
        assert ref in schemas, ref


async def test_openapi_document_is_valid_openapi_31(client):
    from jsonschema import Draft202012Validator

    doc = await (await client.get("/api/openapi.json")).json()
    # Structural checks of the parts tools rely on (no network for the official meta-schema).
    for path, ops in doc["paths"].items():
        assert path.startswith("/")
        for method, op in ops.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert op["responses"], (method, path)
            for status in op["responses"]:
                assert status.isdigit()
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


async def test_secret_key_is_generated_once_and_shared(client, settings):
    from plugin.features.accounts.service import ensure_secret_key

    services = resources_of(client.app)
    assert len(services.secret_key) > 40
    assert await ensure_secret_key(services.db, settings) == services.secret_key


async def test_unexpected_error_is_500_with_request_id_and_no_traceback(aiohttp_client, settings):
    from plugin.app import create_app

    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("secret internals /etc/passwd")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/boom")
    body = await resp.json()
    assert resp.status == 500
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["details"]["request_id"] == resp.headers["X-Request-ID"]
    text = json.dumps(body)
    assert "Traceback" not in text and "secret internals" not in text


async def test_database_failure_is_503_not_500(client, engineer_headers, monkeypatch):
    from contextlib import asynccontextmanager

    from sqlalchemy.exc import OperationalError

    services = resources_of(client.app)

    @asynccontextmanager
    async def broken():
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        yield

    monkeypatch.setattr(services.db, "write", broken)
    resp = await client.post("/api/v1/ai-sessions", json={"title": "x"}, headers=engineer_headers)
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "database_unavailable"
    assert resp.headers["Retry-After"]


def test_the_api_contract_changes_only_on_purpose():
    """The OpenAPI document equals the committed snapshot. An API change updates
    tests/snapshots/openapi.json in the same commit (regenerate it with
    `python -m tests.test_http_foundation`), so every contract change is reviewed."""
    assert _current_openapi() == json.loads(SNAPSHOT.read_text())


SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def _current_openapi() -> dict:
    from plugin.kernel.openapi import build_openapi

    specs = [spec for table in route_tables() for spec in table.specs]
    return build_openapi(specs, title="Fixpilot", version="snapshot")


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(_current_openapi(), indent=1, sort_keys=True) + "\n")
