"""`fixpilot worker` and `serve --no-worker`: the production layout as real processes."""

from __future__ import annotations

import asyncio

from plugin.kernel.db import Database
from tests.callback_helpers import (
    events,
    fixture_body,
    signature_headers,
    wait_until_processed,
)
from tests.process_helpers import (
    fixpilot_env,
    free_port,
    start,
    stop,
    wait_for_http,
    wait_for_line,
)


async def test_worker_process_handles_what_serve_no_worker_stored_and_stops_on_sigterm(
    database_url, cw_sim
):
    import aiohttp

    env = fixpilot_env(database_url, cw_sim)
    port = free_port()
    serve = await start("serve", "--no-worker", "--port", str(port), env=env)
    worker = None
    database = Database(database_url)
    try:
        await wait_for_http(f"http://127.0.0.1:{port}/readyz", serve)
        raw = fixture_body("ticket__updated", cw_sim.site_url)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{port}/webhooks/connectwise/default",
                data=raw,
                headers=signature_headers(raw, cw_sim.signing_key),
            ) as resp,
        ):
            assert resp.status == 202
        await asyncio.sleep(0.5)  # several of the worker's polls, had serve one
        assert [e.status for e in await events(database)] == ["pending"]

        worker = await start("worker", "--no-migrate", env=env)
        await wait_for_line(worker, "Fixpilot worker is running")
        (event,) = await wait_until_processed(database, 1, within=20)
        assert (event.status, event.attempts) == ("done", 1)
    finally:
        await database.dispose()
        code, err = await stop(serve)
        if worker is not None:
            worker_code, worker_err = await stop(worker)
    assert code == 0, err
    assert worker_code == 0, worker_err
    assert "Traceback" not in worker_err
