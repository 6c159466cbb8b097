"""Bad input found by fuzzing the API: each gets a clear 4xx, never a 500."""

from __future__ import annotations

import asyncio
import json
import zlib

from tests.helpers import new_session


async def test_numbers_too_long_and_nesting_too_deep_are_400(client, engineer_headers):
    for raw in (
        '{"title": "x", "psa_ticket_id": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"title": ' + '{"a": ' * 50_000,
    ):
        resp = await client.post(
            "/api/v1/ai-sessions",
            data=raw,
            headers={**engineer_headers, "Content-Type": "application/json"},
        )
        assert resp.status == 400, raw[:40]
        assert (await resp.json())["error"]["code"] == "malformed_json"


async def test_ids_in_other_scripts_digits_are_404(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    for path in (f"%2B{s['id']}", "%D9%A1", f"{s['id']}_0", "9" * 30):
        resp = await client.get(f"/api/v1/ai-sessions/{path}", headers=engineer_headers)
        assert resp.status == 404, path


async def test_body_that_cannot_be_decoded_is_400(client, engineer_headers):
    resp = await client.post(
        "/api/v1/ai-sessions",
        data=b"garbage",
        headers={
            **engineer_headers,
            "Content-Type": "application/json",
            "Content-Encoding": "deflate",
            "Connection": "close",  # the server drops a connection whose body it can't read
        },
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_body"
    good = zlib.compress(json.dumps({"title": "compressed"}).encode())
    resp = await client.post(
        "/api/v1/ai-sessions",
        data=good,
        headers={
            **engineer_headers,
            "Content-Type": "application/json",
            "Content-Encoding": "deflate",
        },
    )
    assert resp.status == 201


async def test_non_utf8_bearer_token_is_401(client):
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"GET /api/v1/ai-sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 401"), response[:60]


async def test_webhook_garbage_is_never_a_500(client):
    bodies = [
        b'{"Action": "added", "Type": "ticket", "ID": "\xc2\xb2"}',
        b'{"Action": "added", "Type": "ticket", "ID": ' + str(2**70).encode() + b"}",
        b'{"Action": "updated", "Type": "ticket", "ID": 1, "Entity": "' + b"[" * 50_000 + b'"}',
        b"9" * 6000,
    ]
    for raw in bodies:
        resp = await client.post(
            "/webhooks/connectwise/default",
            data=raw,
            headers={"Content-Type": "application/json", "x-content-signature": "garbage"},
        )
        assert resp.status < 500, (raw[:40], resp.status)


async def test_head_on_get_routes(client):
    resp = await client.head("/healthz")
    assert resp.status == 200
