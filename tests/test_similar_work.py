"""Similar resolved work: sessions are indexed when they are resolved or escalated (redacted
first), searched per account, and shown with the fix that worked and the ones that failed."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from plugin.features.search.models import ResolvedWork
from plugin.features.search.search import Ranking, shared_index
from plugin.features.search.vectors import embed, from_stored
from plugin.kernel.db import utcnow
from tests.helpers import db_of, insert_fix, new_session

TICKET = 5001  # "Front desk printer not printing - print spooler stuck"
NOTE = (
    "## Problem\n{problem}\n\n## What we confirmed\n- confirmed\n\n"
    "## Root cause\n{cause}\n\n## Resolution\n{resolution}\n"
)
PACKAGE = (
    "## Problem\n{problem}\n\n## What we've confirmed\n- x\n\n## What we've tried\n- y\n\n"
    "## Current hypothesis\n{cause}\n\n## Suggested next steps\n{resolution}\n"
)


async def _fact(client, headers, sid, text):
    resp = await client.post(
        f"/api/v1/ai-sessions/{sid}/facts", json={"text": text}, headers=headers
    )
    assert resp.status == 201, await resp.text()


async def close_session(
    client,
    headers,
    title,
    *,
    facts=(),
    fixes=(),
    problem="",
    cause="",
    resolution="",
    kind="resolution-note",
    **session,
):
    """A session with facts and fixes (title, status), closed with a note; its id."""
    s = await new_session(client, headers, title, **session)
    for fact in facts:
        await _fact(client, headers, s["id"], fact)
    for index, (title_, status) in enumerate(fixes):
        # Earlier attempts were superseded by the next suggestion (one active fix at a time).
        superseded = utcnow() if index < len(fixes) - 1 else None
        await insert_fix(client, s["id"], title=title_, status=status, superseded_at=superseded)
    template = NOTE if kind == "resolution-note" else PACKAGE
    markdown = template.format(problem=problem or title, cause=cause, resolution=resolution)
    resp = await client.post(
        f"/api/v1/ai-sessions/{s['id']}/{kind}/post", json={"markdown": markdown}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return s["id"]


async def similar(client, headers, sid) -> list[dict]:
    resp = await client.get(f"/api/v1/ai-sessions/{sid}/similar", headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]


async def _rows(client) -> list[ResolvedWork]:
    async with db_of(client).read() as db:
        return list((await db.execute(select(ResolvedWork).order_by(ResolvedWork.id))).scalars())


async def test_resolving_and_escalating_index_the_session(client, engineer_headers):
    resolved = await close_session(
        client,
        engineer_headers,
        "Outlook keeps asking for the password",
        facts=["AAD BrokerPlugin folder corrupt", "WAM token cache stale"],
        fixes=[
            ("Clear cached credentials", "applied_failed"),
            ("Reset the BrokerPlugin", "applied_success"),
        ],
        cause="Corrupt AAD BrokerPlugin token cache.",
        resolution="Renamed the BrokerPlugin folder; Outlook signed in once and stopped prompting.",
    )
    escalated = await close_session(
        client,
        engineer_headers,
        "Laptop asks for the BitLocker recovery key",
        facts=["Key not escrowed in Entra"],
        kind="escalation-package",
        cause="Key never backed up.",
        resolution="Vendor to reimage the device.",
    )
    rows = {row.session_id: row for row in await _rows(client)}
    assert set(rows) == {resolved, escalated}
    assert (rows[resolved].outcome, rows[escalated].outcome) == ("resolved", "escalated")
    assert rows[resolved].source == "session" and rows[resolved].embedding
    assert rows[resolved].root_cause == "Corrupt AAD BrokerPlugin token cache."
    assert [f["status"] for f in rows[resolved].fixes] == ["applied_failed", "applied_success"]
    assert rows[escalated].root_cause == "Key never backed up."

    fresh = await new_session(client, engineer_headers, "outlook nags me for my pw all day")
    items = await similar(client, engineer_headers, fresh["id"])
    assert items[0]["session_id"] == resolved
    assert items[0]["fixed_by"]["title"] == "Reset the BrokerPlugin"
    assert [f["title"] for f in items[0]["failed_fixes"]] == ["Clear cached credentials"]
    assert items[0]["outcome"] == "resolved" and items[0]["age_days"] == 0
    assert items[0]["resolution"].startswith("Renamed the BrokerPlugin")


async def test_a_session_never_finds_itself(client, engineer_headers):
    sid = await close_session(client, engineer_headers, "Printer spooler hung", facts=["spooler"])
    assert await similar(client, engineer_headers, sid) == []


async def test_a_secret_in_a_fact_is_not_indexed(client, engineer_headers):
    secret = "Tr0ub4dor-Zebra-9931"
    await close_session(
        client,
        engineer_headers,
        "Service account password rotated, backup job fails",
        facts=[f"Set-ADAccountPassword -Identity svc_backup -NewPassword '{secret}'"],
        # The customer note itself could not carry it: the outbound gate answers 422.
        resolution="Updated the job with the new password and reran it.",
    )
    [row] = await _rows(client)
    stored = " ".join([row.summary, row.problem, row.facts, row.root_cause, row.resolution])
    assert "svc_backup" in stored and secret not in stored and "[REDACTED]" in stored

    async with db_of(client).read() as db:
        found = await shared_index().search_ids(db, row.account_id, secret, ranking=Ranking.TEXT)
    assert found == []
    # The meaning was embedded from the redacted text, not from the secret.
    redacted = embed([f"{row.summary}. {row.problem}"])[0]
    assert np.allclose(from_stored([row.embedding])[0], redacted, atol=1e-3)
    probe = await new_session(client, engineer_headers, "backup job fails after password change")
    assert len(await similar(client, engineer_headers, probe["id"])) == 1


async def test_another_accounts_work_never_matches(client, engineer_headers):
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.tenancy import Account

    async with db_of(client).write() as tx:
        other = Account(slug="other-msp", name="Other MSP", preferences={})
        tx.add(other)
        await tx.flush()
        token, _ = await create_token(tx, other, role="engineer")
    other_headers = {"Authorization": f"Bearer {token}"}
    title = "VPN drops every few minutes on home wifi"
    await close_session(client, other_headers, title, facts=["GlobalProtect keepalive"])

    mine = await new_session(client, engineer_headers, title)
    assert await similar(client, engineer_headers, mine["id"]) == []
    theirs = await new_session(client, other_headers, title)
    assert len(await similar(client, other_headers, theirs["id"])) == 1


async def test_resolving_through_connectwise_indexes_the_ticket(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    resp = await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 4}},
        headers=cw_admin_headers,
    )
    assert resp.status == 200
    sid = await close_session(
        cw_client,
        cw_engineer_headers,
        "printer",
        psa_ticket_id=TICKET,
        facts=["Spooler service hung with a corrupt job in the queue"],
        fixes=[("Restart the print spooler and clear the queue", "applied_success")],
    )
    [row] = await _rows(cw_client)
    assert (row.session_id, row.psa_ticket_id, row.doc_key) == (sid, TICKET, f"ticket:{TICKET}")
    assert row.summary.startswith("Front desk printer")

    fresh = await new_session(cw_client, cw_engineer_headers, "nothing comes out of the printer")
    [item] = await similar(cw_client, cw_engineer_headers, fresh["id"])
    assert item["ticket_id"] == TICKET


async def test_similar_needs_a_session_of_the_account(client, engineer_headers):
    resp = await client.get("/api/v1/ai-sessions/999/similar", headers=engineer_headers)
    assert resp.status == 404
    assert (await client.get("/api/v1/ai-sessions/1/similar")).status == 401


async def test_indexing_a_ticket_again_replaces_its_entry(client):
    from sqlalchemy import text

    from plugin.features.search.documents import WorkDocument
    from plugin.features.search.index import put_documents
    from plugin.kernel.states import WorkOutcome, WorkSource

    def doc(summary: str) -> WorkDocument:
        return WorkDocument(
            doc_key="ticket:4711",
            source=WorkSource.HISTORY,
            summary=summary,
            outcome=WorkOutcome.RESOLVED,
            closed_at=utcnow(),
            psa_ticket_id=4711,
        )

    database = db_of(client)
    for summary in ("scanner emails vanish", "docking station flickers"):
        async with database.write() as tx:
            await put_documents(tx, 1, [doc(summary)])
    [row] = await _rows(client)
    assert row.summary == "docking station flickers"
    async with database.read() as db:
        find = shared_index().search_ids
        assert await find(db, 1, "docking flicker", ranking=Ranking.TEXT) == [row.id]
        assert await find(db, 1, "scanner vanish", ranking=Ranking.TEXT) == []
        if database.is_sqlite:
            entries = (await db.execute(text("SELECT count(*) FROM resolved_work_fts"))).scalar()
            assert entries == 1
        else:
            counts = dict(
                (await db.execute(text("SELECT term, docs FROM resolved_work_terms"))).all()
            )
            assert counts[""] == 1 and counts["dock"] == 1 and counts["scanner"] == 0
