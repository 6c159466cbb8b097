"""The fix lifecycle over HTTP: every cell of the outcome table, the pending rules, apply,
supersession, and concurrent outcome writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from plugin.features.fixes.transitions import TRANSITIONS, FixStatus
from tests.helpers import insert_fix, new_session, state_version

OUTCOME_CELLS = [(src, dst) for (src, dst), rule in TRANSITIONS.items() if rule.via == "outcome"]
TEXT_FOR = {
    "applied_partial": {"notes": "Printer 2 still offline"},
    "applied_pending": {"pending_reason": "User to confirm after reboot"},
}


@pytest.mark.parametrize(
    ("current", "target"), OUTCOME_CELLS, ids=[f"{s.value}->{t.value}" for s, t in OUTCOME_CELLS]
)
async def test_outcome_table_cell(client, engineer_headers, current, target):
    s = await new_session(client, engineer_headers)
    extra = {"applied_at": datetime.now(UTC)} if current != FixStatus.SUGGESTED else {}
    if current == FixStatus.APPLIED_PARTIAL:
        extra["partial_notes"] = "earlier notes"
    if current == FixStatus.APPLIED_PENDING:
        extra["pending_reason"] = "earlier reason"
    if current == FixStatus.DISMISSED:
        extra["superseded_at"] = datetime.now(UTC)
    fix_id = await insert_fix(client, s["id"], status=current.value, **extra)
    before = await state_version(client, engineer_headers, s["id"])

    resp = await client.patch(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/{fix_id}/outcome",
        json={"outcome": target.value, **TEXT_FOR.get(target.value, {})},
        headers=engineer_headers,
    )
    rule = TRANSITIONS[(current, target)]
    body = await resp.json()
    if rule.allowed:
        assert resp.status == 200, body
        assert body["status"] == target.value
        assert body["applied_at"] is not None
        verified = target in (FixStatus.APPLIED_SUCCESS, FixStatus.APPLIED_FAILED)
        assert (body["verified_at"] is not None) == verified
        assert body["state_version"] == before + 1
    else:
        assert resp.status == 409, body
        assert await state_version(client, engineer_headers, s["id"]) == before


async def _fix(client, headers, status="suggested", **extra):
    s = await new_session(client, headers)
    fix_id = await insert_fix(client, s["id"], status=status, **extra)
    return s["id"], fix_id, f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/{fix_id}"


async def test_pending_requires_a_reason(client, engineer_headers):
    sid, _, url = await _fix(client, engineer_headers)
    for payload in (
        {"outcome": "applied_pending"},
        {"outcome": "applied_pending", "pending_reason": "  "},
    ):
        resp = await client.patch(url + "/outcome", json=payload, headers=engineer_headers)
        assert resp.status == 422
        assert "pending_reason" in (await resp.json())["error"]["details"]["fields"]
    assert await state_version(client, engineer_headers, sid) == 1


async def test_partial_requires_notes(client, engineer_headers):
    _, _, url = await _fix(client, engineer_headers)
    resp = await client.patch(
        url + "/outcome", json={"outcome": "applied_partial"}, headers=engineer_headers
    )
    assert resp.status == 422
    assert "notes" in (await resp.json())["error"]["details"]["fields"]


async def test_pending_lifecycle(client, engineer_headers):
    sid, _, url = await _fix(client, engineer_headers)
    resp = await client.patch(
        url + "/outcome",
        json={"outcome": "applied_pending", "pending_reason": "User to confirm after reboot"},
        headers=engineer_headers,
    )
    fix = await resp.json()
    assert resp.status == 200
    assert fix["pending_reason"] == "User to confirm after reboot"
    assert fix["applied_at"] is not None and fix["verified_at"] is None
    session = await (
        await client.get(f"/api/v1/ai-sessions/{sid}", headers=engineer_headers)
    ).json()
    assert session["banner_mode"] == "pending"

    resp = await client.patch(
        url + "/outcome",
        json={"outcome": "applied_pending", "pending_reason": "Waiting on the vendor's patch"},
        headers=engineer_headers,
    )
    assert (await resp.json())["pending_reason"] == "Waiting on the vendor's patch"

    resp = await client.patch(
        url + "/outcome", json={"outcome": "applied_success"}, headers=engineer_headers
    )
    fix = await resp.json()
    assert fix["status"] == "applied_success" and fix["verified_at"] is not None
    session = await (
        await client.get(f"/api/v1/ai-sessions/{sid}", headers=engineer_headers)
    ).json()
    assert session["banner_mode"] is None


async def test_unknown_outcome_is_422(client, engineer_headers):
    _, _, url = await _fix(client, engineer_headers)
    for bad in ("dismissed", "worked", ""):
        resp = await client.patch(url + "/outcome", json={"outcome": bad}, headers=engineer_headers)
        assert resp.status == 422


async def test_apply_stamps_once_and_banner_moves_to_verifying_then_nudge(client, engineer_headers):
    sid, fix_id, url = await _fix(client, engineer_headers)
    first = await (await client.post(url + "/apply", headers=engineer_headers)).json()
    assert first["applied_at"] is not None and first["state_version"] == 2
    again = await (await client.post(url + "/apply", headers=engineer_headers)).json()
    assert again["applied_at"] == first["applied_at"] and again["state_version"] == 2
    session = await (
        await client.get(f"/api/v1/ai-sessions/{sid}", headers=engineer_headers)
    ).json()
    assert session["banner_mode"] == "verifying"

    from sqlalchemy import update

    from plugin.features.fixes.models import SuggestedFix
    from tests.helpers import db_of

    async with db_of(client).write() as db:
        await db.execute(
            update(SuggestedFix)
            .where(SuggestedFix.id == fix_id)
            .values(applied_at=datetime.now(UTC) - timedelta(minutes=16))
        )
    session = await (
        await client.get(f"/api/v1/ai-sessions/{sid}", headers=engineer_headers)
    ).json()
    assert session["banner_mode"] == "nudge"


async def test_superseded_fix_takes_no_outcome(client, engineer_headers):
    _, _, url = await _fix(client, engineer_headers, superseded_at=datetime.now(UTC))
    resp = await client.patch(
        url + "/outcome", json={"outcome": "applied_success"}, headers=engineer_headers
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "fix_superseded"
    resp = await client.post(url + "/apply", headers=engineer_headers)
    assert resp.status == 409


async def test_active_fix_route(client, engineer_headers):
    s = await new_session(client, engineer_headers)
    resp = await client.get(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/active", headers=engineer_headers
    )
    assert resp.status == 404
    fix_id = await insert_fix(client, s["id"])
    resp = await client.get(
        f"/api/v1/ai-sessions/{s['id']}/suggested-fixes/active", headers=engineer_headers
    )
    assert (await resp.json())["id"] == fix_id


async def test_twenty_concurrent_outcomes_one_wins(client, engineer_headers):
    sid, _, url = await _fix(client, engineer_headers)
    responses = await asyncio.gather(
        *[
            client.patch(
                url + "/outcome", json={"outcome": "applied_success"}, headers=engineer_headers
            )
            for _ in range(20)
        ]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 19
    assert await state_version(client, engineer_headers, sid) == 2


async def test_concurrent_mixed_outcomes_apply_each_legal_one_once(client, engineer_headers):
    """pending and partial updates may follow one another; once success lands, nothing else."""
    sid, _, url = await _fix(client, engineer_headers)
    payloads = [
        {"outcome": "applied_pending", "pending_reason": f"reason {i}"} for i in range(5)
    ] + [{"outcome": "applied_success"}]
    responses = await asyncio.gather(
        *[client.patch(url + "/outcome", json=p, headers=engineer_headers) for p in payloads]
    )
    ok = [r for r in responses if r.status == 200]
    assert all(r.status in (200, 409) for r in responses)
    assert await state_version(client, engineer_headers, sid) == 1 + len(ok)
