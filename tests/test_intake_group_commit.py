"""Group-committed callback intake: many requests, one transaction, every one answered for
what happened to its own callback."""

from __future__ import annotations

import asyncio
import copy
import time
from contextlib import asynccontextmanager

from sqlalchemy import update

from plugin.app import create_app
from plugin.features.callbacks import worker as worker_module
from plugin.features.callbacks import writer as writer_module
from plugin.features.callbacks.intake import CALLBACK_INTAKE
from plugin.kernel.tenancy import Account
from tests.callback_helpers import deliver, events, services_of, ticket_body


def distinct_bodies(cw_sim, n: int) -> list[bytes]:
    template = cw_sim.tickets[5012]
    bodies = []
    for i in range(n):
        ticket = copy.deepcopy(template)
        ticket.update(id=800_000 + i)
        bodies.append(ticket_body(cw_sim.site_url, ticket))
    return bodies


def batch_sizes(monkeypatch) -> list[int]:
    """The size of every batch the writer stores, in order."""
    sizes: list[int] = []
    real = writer_module.store_batch

    async def recording(database, rows):
        sizes.append(len(rows))
        return await real(database, rows)

    monkeypatch.setattr(writer_module, "store_batch", recording)
    return sizes


async def test_200_concurrent_distinct_callbacks_are_all_stored_once(
    cw_client, cw_sim, monkeypatch
):
    sizes = batch_sizes(monkeypatch)
    bodies = distinct_bodies(cw_sim, 200)
    await deliver(cw_client, bodies[0], cw_sim.signing_key)  # the key is fetched once first

    answers = await asyncio.gather(
        *(deliver(cw_client, raw, cw_sim.signing_key) for raw in bodies[1:])
    )

    assert [r.status for r in answers] == [202] * 199
    ids = [(await r.json())["event_id"] for r in answers]
    rows = await events(services_of(cw_client).db)
    assert len(rows) == 200
    assert sorted(e.record_id for e in rows) == list(range(800_000, 800_200))
    assert set(ids) <= {e.id for e in rows} and len(set(ids)) == 199
    assert max(sizes) > 1  # they were group-committed, not one transaction each


async def test_duplicates_inside_one_batch_are_answered_duplicate(cw_client, cw_sim, monkeypatch):
    sizes = batch_sizes(monkeypatch)
    writer = cw_client.app[CALLBACK_INTAKE].writer
    writer.linger, writer.linger_after_quiet = 0.2, 0  # all five land in one batch
    raw = distinct_bodies(cw_sim, 1)[0]
    await deliver(cw_client, distinct_bodies(cw_sim, 2)[1], cw_sim.signing_key)  # warm the key
    sizes.clear()

    answers = await asyncio.gather(*(deliver(cw_client, raw, cw_sim.signing_key) for _ in range(5)))

    assert sizes == [5]
    statuses = sorted([(r.status, (await r.json())["status"]) for r in answers])
    assert statuses == [(200, "duplicate")] * 4 + [(202, "accepted")]
    assert len(await events(services_of(cw_client).db, record_id=800_000)) == 1


async def test_a_failed_batch_answers_429_to_all_of_it_and_stores_none_of_it(
    cw_client, cw_sim, monkeypatch
):
    sizes = batch_sizes(monkeypatch)
    db = services_of(cw_client).db
    writer = cw_client.app[CALLBACK_INTAKE].writer
    writer.linger, writer.linger_after_quiet = 0.2, 0
    bodies = distinct_bodies(cw_sim, 9)
    await deliver(cw_client, bodies[0], cw_sim.signing_key)  # warm the key
    sizes.clear()
    # The database refuses one row of the batch, with others of it already inserted.
    async with refusing_record(db, 800_005):
        answers = await asyncio.gather(
            *(deliver(cw_client, raw, cw_sim.signing_key) for raw in bodies[1:])
        )

    assert sizes == [8]
    assert [r.status for r in answers] == [429] * 8
    assert all(r.headers["Retry-After"] for r in answers)
    assert [e.record_id for e in await events(db)] == [800_000]  # nothing of the batch
    retried = await asyncio.gather(
        *(deliver(cw_client, raw, cw_sim.signing_key) for raw in bodies[1:])
    )
    assert [r.status for r in retried] == [202] * 8
    assert len(await events(db)) == 9


@asynccontextmanager
async def refusing_record(db, record_id: int):
    """A trigger that makes the database refuse to store a callback event of `record_id`."""
    if db.is_sqlite:
        create = [
            "CREATE TRIGGER refuse_event BEFORE INSERT ON psa_callback_events "
            f"WHEN NEW.record_id = {record_id} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_event"]
    else:
        create = [
            "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.record_id = {record_id} THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_event BEFORE INSERT ON psa_callback_events "
            "FOR EACH ROW EXECUTE FUNCTION refuse_event()",
        ]
        drop = ["DROP TRIGGER refuse_event ON psa_callback_events", "DROP FUNCTION refuse_event"]
    async with db.engine.begin() as conn:
        for statement in create:
            await conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            for statement in drop:
                await conn.exec_driver_sql(statement)


async def test_a_disconnected_account_stops_taking_callbacks_within_the_cache_ttl(
    cw_client, cw_sim
):
    intake = cw_client.app[CALLBACK_INTAKE]
    intake.account_ttl = 0.2
    first, second = distinct_bodies(cw_sim, 2)
    assert (await deliver(cw_client, first, cw_sim.signing_key)).status == 202
    async with services_of(cw_client).db.write() as tx:
        await tx.execute(
            update(Account).where(Account.slug == "default").values(psa_provider="local")
        )

    await asyncio.sleep(0.3)
    resp = await deliver(cw_client, second, cw_sim.signing_key)

    assert resp.status == 404


async def test_embedded_worker_steps_aside_while_intake_is_busy(
    aiohttp_client, cw_settings, cw_sim, monkeypatch
):
    client = await aiohttp_client(create_app(cw_settings(), workers=False))
    services = services_of(client)
    for raw in distinct_bodies(cw_sim, 3):
        assert (await deliver(client, raw, cw_sim.signing_key)).status == 202
    await asyncio.sleep(0.3)
    assert {e.status for e in await events(services.db)} == {"pending"}  # no worker here
    monkeypatch.setattr(worker_module, "YIELD_SECONDS", 0.2)

    started = time.monotonic()
    busy = await worker_module.run_batch(
        services.db, services.psa, services.metrics, intake_quiet_for=lambda: 0.0
    )
    waited = time.monotonic() - started
    quiet = await worker_module.run_batch(
        services.db, services.psa, services.metrics, intake_quiet_for=lambda: 10.0
    )

    assert busy == worker_module.BUSY_BATCH == 1  # one event, after waiting its turn
    assert waited >= 0.2
    assert quiet == 2  # the rest at once when intake is quiet


async def test_a_store_slower_than_the_deadline_answers_429_and_still_lands(
    cw_client, cw_sim, monkeypatch
):
    db = services_of(cw_client).db
    first, raw = distinct_bodies(cw_sim, 2)
    assert (await deliver(cw_client, first, cw_sim.signing_key)).status == 202  # warm the key
    cw_client.app[CALLBACK_INTAKE].writer.deadline = 0.1
    real = writer_module.store_batch

    async def slow(database, rows):
        await asyncio.sleep(0.4)  # SQLite waiting on its busy timeout, say
        return await real(database, rows)

    monkeypatch.setattr(writer_module, "store_batch", slow)

    late = await deliver(cw_client, raw, cw_sim.signing_key)

    assert late.status == 429
    assert late.headers["Retry-After"]
    await asyncio.sleep(0.6)
    assert len(await events(db)) == 2  # it landed after the answer
    monkeypatch.setattr(writer_module, "store_batch", real)
    retried = await deliver(cw_client, raw, cw_sim.signing_key)  # ConnectWise retries
    assert (retried.status, (await retried.json())["status"]) == (200, "duplicate")


async def test_requests_past_their_deadline_are_answered_by_one_timer_and_still_land(tmp_path):
    from plugin.features.callbacks.writer import IntakeWriter, StoreTooSlow

    stored: list[list[dict]] = []
    release = asyncio.Event()

    class SlowWriter(IntakeWriter):
        async def _write(self, batch):  # the database stalls, then stores the batch
            await release.wait()
            stored.append([w.values for w in batch])
            for waiting, n in zip(batch, range(len(batch)), strict=True):
                if not waiting.answer.done():
                    waiting.answer.set_result(n)

    writer = SlowWriter(database=None, deadline=0.05, linger=0)
    loop = asyncio.get_running_loop()
    timers_before = len(loop._scheduled)
    answers = [writer.submit({"n": i}) for i in range(50)]
    assert len(loop._scheduled) - timers_before == 1  # one deadline timer, not fifty
    results = await asyncio.gather(*answers, return_exceptions=True)
    assert all(isinstance(r, StoreTooSlow) for r in results)
    release.set()
    await asyncio.sleep(0.05)
    assert sum(len(b) for b in stored) == 50  # answered 429, stored all the same
    on_time = writer.submit({"n": 50})
    assert await asyncio.wait_for(on_time, 1) == 0
    await writer.aclose()


async def test_only_a_batch_after_a_quiet_spell_lingers_for_company():
    """A burst's first request waits `linger` for the others; under steady load the next
    batch gathers while one is written, so it goes at once."""
    from plugin.features.callbacks.writer import IntakeWriter

    batches: list[tuple[float, int]] = []

    class RecordingWriter(IntakeWriter):
        async def _write(self, batch):
            batches.append((asyncio.get_running_loop().time(), len(batch)))
            for n, waiting in enumerate(batch):
                waiting.answer.set_result(n)

    writer = RecordingWriter(database=None, linger=0.3, linger_after_quiet=5.0)
    loop = asyncio.get_running_loop()

    began = loop.time()
    await writer.submit({"n": 0})  # the first batch ever: after a quiet spell
    assert batches[-1][0] - began >= 0.3
    began = loop.time()
    await writer.submit({"n": 1})  # right after a batch was written: no wait
    assert batches[-1][0] - began < 0.1
    writer.linger_after_quiet = 0.05
    await asyncio.sleep(0.1)
    began = loop.time()
    first, second = writer.submit({"n": 2}), writer.submit({"n": 3})
    await asyncio.gather(first, second)  # quiet again: the two wait, and share a batch
    assert batches[-1][0] - began >= 0.3 and batches[-1][1] == 2
    await writer.aclose()
