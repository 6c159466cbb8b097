"""`fixpilot connectwise import-history`: closed tickets and their notes from the ConnectWise
simulator become searchable history, page by page, resumable after a failure without
duplicates."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from plugin.cli.history import import_command, since_arg
from plugin.features.search.history import import_history
from plugin.features.search.models import HistoryImport, ResolvedWork
from plugin.kernel.appkeys import INSTANCE, SETTINGS
from plugin.kernel.psa import PSAConnections
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa import PSAUnavailable
from providers.psa.simulator.history_seed import seed_history
from tests.helpers import db_of, new_session

SINCE = datetime.now(UTC) - timedelta(days=400)


@pytest.fixture
def seeded(cw_sim) -> list[int]:
    return seed_history(cw_sim, limit=60)


async def _history(cw_client, page_size: int):
    async with db_of(cw_client).read() as db:
        account = await get_account_by_slug(db, "default")
    history = (
        PSAConnections(cw_client.app[SETTINGS], cw_client.app[INSTANCE])
        .for_account(account)
        .history
    )
    history.page_size = page_size
    return account.id, history


async def _rows(cw_client) -> list[ResolvedWork]:
    async with db_of(cw_client).read() as db:
        return list((await db.execute(select(ResolvedWork))).scalars())


def _notes_fetched(cw_sim) -> Counter:
    return Counter(
        path.split("/")[2]
        for method, path in cw_sim.requests
        if path.endswith("/notes") and method == "GET"
    )


async def test_closed_tickets_become_searchable_history(
    cw_client, cw_engineer_headers, cw_sim, seeded
):
    account_id, history = await _history(cw_client, page_size=25)
    progress = []
    result = await import_history(
        db_of(cw_client),
        history,
        account_id,
        since=SINCE,
        on_progress=lambda d, t: progress.append((d, t)),
    )
    assert (result.imported, result.total, result.resumed_after) == (60, 60, 0)
    assert progress[0] == (0, 60) and progress[-1] == (60, 60)
    pages = [p for m, p in cw_sim.requests if m == "GET" and p == "service/tickets"]
    assert len(pages) == 3  # 25 + 25 + 10

    rows = await _rows(cw_client)
    assert sorted(r.psa_ticket_id for r in rows) == sorted(seeded)
    assert all(r.source == "history" and r.session_id is None for r in rows)
    bitlocker = next(r for r in rows if r.psa_ticket_id == 24008)
    assert bitlocker.problem.startswith("Laptop asking for recovery key")
    assert "Key not escrowed" in bitlocker.facts and "Did not work: Searched AD" in bitlocker.facts
    assert bitlocker.resolution.startswith(
        "Root cause: BitLocker recovery key was never backed up."
    )

    s = await new_session(cw_client, cw_engineer_headers, "laptop wants a recovery key at boot")
    resp = await cw_client.get(
        f"/api/v1/ai-sessions/{s['id']}/similar", headers=cw_engineer_headers
    )
    items = (await resp.json())["items"]
    assert items[0]["ticket_id"] == 24008 and items[0]["source"] == "history"
    assert items[0]["resolution"].startswith("Root cause: BitLocker")


async def test_an_interrupted_import_resumes_without_duplicates(cw_client, cw_sim, seeded):
    account_id, history = await _history(cw_client, page_size=25)
    broken = seeded[37]
    cw_sim.faults.fail_next(503, count=10, path=f"service/tickets/{broken}/notes")
    with pytest.raises(PSAUnavailable):
        await import_history(db_of(cw_client), history, account_id, since=SINCE)
    assert len(await _rows(cw_client)) == 37
    cw_sim.faults.reset()

    result = await import_history(db_of(cw_client), history, account_id, since=SINCE)
    assert result.resumed_after == seeded[36] and result.imported == 60
    rows = await _rows(cw_client)
    assert len(rows) == 60 and len({r.doc_key for r in rows}) == 60
    fetched = _notes_fetched(cw_sim)
    assert all(fetched[str(t)] == 1 for t in seeded if t != broken)  # nothing read twice
    async with db_of(cw_client).read() as db:
        state = (await db.execute(select(HistoryImport))).scalar_one()
    assert state.finished_at is not None and state.cursor_ticket_id == seeded[-1]

    again = await import_history(db_of(cw_client), history, account_id, since=SINCE)
    assert again.resumed_after == 0 and again.imported == 60  # a finished import starts over
    async with db_of(cw_client).read() as db:
        assert (await db.execute(select(func.count()).select_from(ResolvedWork))).scalar() == 60


async def test_the_command_imports_one_board_with_a_progress_bar(
    cw_settings, cw_client, cw_sim, seeded, capsys
):
    escalated = [t for t in seeded if cw_sim.tickets[t]["board"]["id"] == 2]
    assert escalated  # the seed puts escalated tickets on the Escalations board
    code = await asyncio.to_thread(
        import_command,
        cw_settings(),
        account="default",
        since=since_arg("400d"),
        board=2,
        restart=False,
    )
    captured = capsys.readouterr()
    assert code == 0
    assert f"imported {len(escalated)} of {len(escalated)} closed tickets" in captured.out
    assert f"] {len(escalated)}/{len(escalated)}" in captured.err
    assert sorted(r.psa_ticket_id for r in await _rows(cw_client)) == sorted(escalated)


async def test_only_recently_updated_tickets_are_imported(cw_client, cw_sim, seeded):
    account_id, history = await _history(cw_client, page_size=1000)
    since = (datetime.now(UTC) - timedelta(days=90)).replace(microsecond=0)
    recent = [
        t for t in seeded
        if datetime.fromisoformat(cw_sim.tickets[t]["closedDate"].replace("Z", "+00:00")) >= since
    ]  # fmt: skip
    result = await import_history(db_of(cw_client), history, account_id, since=since)
    assert 0 < result.imported == len(recent) < len(seeded)


def test_since_takes_days_weeks_or_a_date():
    now = datetime.now(UTC)
    assert abs((now - since_arg("90d")) - timedelta(days=90)) < timedelta(seconds=5)
    assert abs((now - since_arg("2w")) - timedelta(days=14)) < timedelta(seconds=5)
    assert since_arg("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(Exception, match="not like"):
        since_arg("yesterday")


async def test_a_sessions_record_of_a_ticket_wins_over_its_history(cw_client, cw_sim, seeded):
    from plugin.features.search.documents import WorkDocument
    from plugin.features.search.index import put_documents
    from plugin.kernel.states import WorkOutcome, WorkSource

    account_id, history = await _history(cw_client, page_size=1000)
    ticket = seeded[0]
    async with db_of(cw_client).write() as tx:
        await put_documents(
            tx,
            account_id,
            [
                WorkDocument(
                    doc_key=f"ticket:{ticket}",
                    source=WorkSource.SESSION,
                    summary="worked in Fixpilot",
                    outcome=WorkOutcome.RESOLVED,
                    closed_at=datetime.now(UTC),
                    psa_ticket_id=ticket,
                )
            ],
        )
    await import_history(db_of(cw_client), history, account_id, since=SINCE)
    rows = {r.psa_ticket_id: r for r in await _rows(cw_client)}
    assert len(rows) == 60
    assert (rows[ticket].source, rows[ticket].summary) == ("session", "worked in Fixpilot")
