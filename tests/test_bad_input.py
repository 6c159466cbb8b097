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


async def _post_raw(client, path: str, raw: str, headers: dict) -> tuple[int, dict]:
    resp = await client.post(
        path, data=raw, headers={**headers, "Content-Type": "application/json"}
    )
    return resp.status, await resp.json()


async def test_d3_nul_and_lone_surrogates_anywhere_in_a_body_are_422_naming_the_field(
    client, engineer_headers, admin_headers
):
    """PostgreSQL refuses NUL and unpaired surrogates in text and JSONB; the edge refuses
    them first, on both backends, naming the field instead of answering 503."""
    s = await new_session(client, engineer_headers)
    api = f"/api/v1/ai-sessions/{s['id']}"
    template = (
        '{"name": "t", "language": "powershell", "body": "Write-Output 1", '
        '"parameters_schema": [{"name": "p", "default": {"deep": ["ok", %s]}}]}'
    )
    cases = [
        ("/api/v1/ai-sessions", '{"title": "printer\\u0000queue"}', engineer_headers, "title"),
        ("/api/v1/ai-sessions", '{"title": "a\\ud800b"}', engineer_headers, "title"),
        (f"{api}/facts", '{"text": "disk \\u0000 full"}', engineer_headers, "text"),
        (f"{api}/messages", '{"content": "hi\\udfff"}', engineer_headers, "content"),
        (f"{api}/resolution-note/post", '{"markdown": "x\\u0000"}', engineer_headers, "markdown"),
        (
            "/api/v1/scripts/templates",
            template % '"\\u0000"',
            admin_headers,
            "parameters_schema.0.default.deep.1",
        ),
        (
            "/api/v1/scripts/templates",
            template.replace('"deep"', '"de\\u0000ep"') % '"x"',
            admin_headers,
            "parameters_schema.0.default.'de\\x00ep'",
        ),
    ]
    for path, raw, headers, field in cases:
        status, body = await _post_raw(client, path, raw, headers)
        assert status == 422, (path, raw, status, body)
        assert field in body["error"]["details"]["fields"], (field, body)
    # Nothing was stored on the way.
    facts = await (await client.get(f"{api}/facts", headers=engineer_headers)).json()
    assert facts == [] or facts.get("items", []) == []


async def test_d3_nul_in_a_query_string_is_422_naming_the_parameter(client, engineer_headers):
    resp = await client.get("/api/v1/ai-sessions?status=open%00", headers=engineer_headers)
    assert resp.status == 422
    assert "status" in (await resp.json())["error"]["details"]["fields"]
    resp = await client.get("/api/v1/ai-sessions?status=open", headers=engineer_headers)
    assert resp.status == 200


async def test_d3_ids_past_32_bits_are_404_and_past_63_bits_never_reach_the_database(
    client, engineer_headers
):
    s = await new_session(client, engineer_headers)
    for raw in (2**31, 2**40, 2**62 + 1, 2**63 - 1, 2**63, 2**64, 10**19):
        resp = await client.get(f"/api/v1/ai-sessions/{raw}", headers=engineer_headers)
        assert resp.status == 404, (raw, resp.status)
        resp = await client.delete(
            f"/api/v1/ai-sessions/{s['id']}/facts/{raw}", headers=engineer_headers
        )
        assert resp.status == 404, (raw, resp.status)
    for retry_of in (2**31, 2**62 + 1):
        resp = await client.post(
            f"/api/v1/ai-sessions/{s['id']}/messages",
            json={"content": "again", "retry_of": retry_of},
            headers=engineer_headers,
        )
        assert resp.status in (404, 409, 422), (retry_of, resp.status)
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/messages",
        json={"content": "again", "retry_of": 2**63},
        headers=engineer_headers,
    )
    assert resp.status == 422
    assert "retry_of" in (await resp.json())["error"]["details"]["fields"]


async def test_d3_ids_written_other_than_canonically_are_404_or_422(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    sid = s["id"]
    for written in (f"0{sid}", f"%2B{sid}", f"%20{sid}", f"{sid}%20", "0"):
        resp = await client.get(f"/api/v1/ai-sessions/{written}", headers=engineer_headers)
        assert resp.status == 404, (written, resp.status)
        assert "session_id" in (await resp.json())["error"]["message"]
    assert (await client.get(f"/api/v1/ai-sessions/{sid}", headers=engineer_headers)).status == 200
    for written in ("01", "+1", " 1", "1 ", "0", str(2**63)):
        resp = await client.get(
            "/api/v1/ai-sessions", params={"psa_ticket_id": written}, headers=engineer_headers
        )
        assert resp.status == 422, (written, resp.status)
        assert "psa_ticket_id" in (await resp.json())["error"]["details"]["fields"]


async def test_d3_integers_past_64_bits_in_a_body_are_422(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    status, body = await _post_raw(
        client,
        "/api/v1/ai-sessions",
        '{"title": "x", "psa_ticket_id": ' + str(2**64) + "}",
        engineer_headers,
    )
    assert status == 422 and "psa_ticket_id" in body["error"]["details"]["fields"]
    resp = await client.patch(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/1/outcome",
        json={"outcome": "worked", "state_version": 2**63},
        headers=engineer_headers,
    )
    assert resp.status == 422


async def test_minor_note_posts_with_an_empty_body_are_422(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    for kind in ("resolution-note", "escalation-package", "kb-article"):
        resp = await client.post(
            f"/api/v1/ai-sessions/{s['id']}/{kind}/post",
            data=b"",
            headers={**engineer_headers, "Content-Type": "application/json"},
        )
        assert resp.status == 422, kind
        assert (await resp.json())["error"]["details"]["fields"] == {"body": "required"}
