"""`fixpilot worker`: the callback and writeback workers without the HTTP server.

The production layout is `serve --no-worker` ×N behind a load balancer and `worker` ×M, all
on one PostgreSQL: the leased queue (kernel.queue) lets any number of workers claim disjoint
rows, and a worker that dies leaves its claims to run out and be taken over. SIGTERM or
SIGINT stops it: the batch at hand finishes or its leases run out, never half-applied.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from plugin.app import create_worker_app
from plugin.cli.common import migrated_only, run_async
from plugin.kernel.logging import configure_logging
from plugin.kernel.settings import Settings


def worker(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(settings.log_format, settings.log_level)
    if not args.no_migrate:
        run_async(settings, migrated_only)
    asyncio.run(_run(settings))
    return 0


async def _run(settings: Settings) -> None:
    runner = web.AppRunner(create_worker_app(settings), handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()  # start-up: instance secret, default account, then the workers
    print("Fixpilot worker is running (callbacks, writebacks)", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # the workers stop, then the PSA clients and the database
