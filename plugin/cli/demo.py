"""`fixpilot demo`: the service on its embedded defaults with the ConnectWise simulator.

SQLite in the working directory, the simulator seeded with demo boards and tickets (on its
own port, as a separate "ConnectWise"), the shipped script library, sensible status
settings, and a printed link to a simulated ticket screen that hosts the pod.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import UTC, datetime, timedelta
from importlib import resources
from urllib.parse import quote

from aiohttp import web
from pydantic import SecretStr

from plugin.app import create_app
from plugin.cli.common import CommandError
from plugin.features.accounts.auth import create_token
from plugin.features.accounts.service import ensure_default_account
from plugin.features.psa_setup.install import install_registrations
from plugin.features.scripts.service import import_templates
from plugin.features.search.history import import_history
from plugin.kernel.db import Database
from plugin.kernel.logging import configure_logging
from plugin.kernel.migrate import upgrade
from plugin.kernel.psa import PSAConnections
from plugin.kernel.settings import Settings
from plugin.kernel.states import TemplateOrigin
from plugin.kernel.tenancy import DEFAULT_ACCOUNT, get_account_by_slug
from providers.psa.simulator import SimulatorState, create_simulator_app

DEMO_PREFERENCES = {
    "cw_resolved_status_id": 4,
    "cw_escalated_status_id": 5,
    "board_overrides": {"2": {"resolved": 14, "escalated": 15}},
    "auto_open_boards": [1],
}
# The simulator's closed tickets go back 400 days; the demo learns from all of them.
DEMO_HISTORY_DAYS = 400


def add_commands(sub) -> None:
    p = sub.add_parser(
        "demo", help="run with the ConnectWise simulator, demo tickets and the script library"
    )
    p.add_argument("--port", type=int, help="the service's port (default FIXPILOT_PORT)")
    p.add_argument("--sim-port", type=int, default=8090, help="the simulator's port")
    p.set_defaults(run=command)


def command(settings: Settings, args: argparse.Namespace) -> int:
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    try:
        asyncio.run(run_demo(settings, sim_port=args.sim_port))
    except OSError as exc:
        raise CommandError(f"cannot start the demo: {exc}") from None
    return 0


def shipped_library() -> list[dict]:
    text = resources.files("plugin.features.scripts").joinpath("library.json").read_text()
    return json.loads(text)


async def run_demo(settings: Settings, *, sim_port: int) -> None:
    configure_logging(settings.log_format or "console", settings.log_level)
    state = SimulatorState.demo(history=True)
    state.site_url = f"http://{settings.host}:{sim_port}"
    sim_runner = web.AppRunner(create_simulator_app(state))
    await sim_runner.setup()
    await web.TCPSite(sim_runner, settings.host, sim_port).start()

    public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    settings = settings.model_copy(
        update={
            "public_url": public_url,
            "cw_url": state.api_url,
            "cw_company_id": state.company_id,
            "cw_public_key": state.public_key,
            "cw_private_key": SecretStr(state.private_key),
            "cw_client_id": state.client_id,
            "cw_api_member_id": state.api_member_id,
        }
    )
    counts, token = await _prepare_database(settings)
    app_runner = web.AppRunner(create_app(settings), access_log=None)
    await app_runner.setup()
    await web.TCPSite(app_runner, settings.host, settings.port).start()
    await _register_callbacks(settings)
    counts["history"] = await _import_history(settings)
    print(_banner(settings, state, counts, token), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app_runner.cleanup()
    await sim_runner.cleanup()


async def _prepare_database(settings: Settings) -> tuple[dict[str, int], str]:
    """Migrate, configure the default account, load the library; an admin token."""
    await upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        await ensure_default_account(database, settings)
        async with database.write() as tx:
            account = await get_account_by_slug(tx, DEFAULT_ACCOUNT)
            counts = await import_templates(
                tx, account.id, shipped_library(), origin=TemplateOrigin.LIBRARY
            )
            if not account.preferences:
                account.preferences = DEMO_PREFERENCES
            token, _ = await create_token(tx, account, role="admin", name="demo")
    finally:
        await database.dispose()
    return counts, token


def _banner(settings: Settings, state: SimulatorState, counts: dict[str, int], token: str) -> str:
    public_url = settings.public_url
    pod = f"{public_url}/pod?id=5001&screen=ticket"
    assistant = (
        f"Claude ({settings.llm_model})"
        if settings.anthropic_api_key
        else "offline (set ANTHROPIC_API_KEY for Claude)"
    )
    return f"""
Fixpilot demo is running.
  Service:           {public_url}   (GET /healthz, /api/openapi.json)
  ConnectWise (sim): {state.site_url}   ({len(state.tickets)} tickets, boards 1 and 2)
  Similar work:      {counts["history"]} closed tickets imported as history
  Script library:    {counts["created"]} added, {counts["updated"]} updated
  Assistant:         {assistant}

Open the pod inside a simulated ConnectWise ticket screen:
  {state.site_url}/_sim/ticket/5001?pod={quote(pod, safe="")}

An admin API token for curl (shown once):
  {token}

Ctrl-C stops it."""


async def _import_history(settings: Settings) -> int:
    """What `fixpilot connectwise import-history` does, over the simulator's closed tickets."""
    database = Database(settings.database_url)
    providers = PSAConnections(settings)
    try:
        async with database.read() as db:
            account = await get_account_by_slug(db, DEFAULT_ACCOUNT)
        history = providers.for_account(account).history
        assert history is not None
        since = datetime.now(UTC) - timedelta(days=DEMO_HISTORY_DAYS)
        result = await import_history(database, history, account.id, since=since)
        return result.imported
    finally:
        await providers.aclose()
        await database.dispose()


async def _register_callbacks(settings: Settings) -> None:
    """Register the callback and the pod with the simulator, as `connectwise install` does,
    so ticket changes made in the simulator reach the service."""
    database = Database(settings.database_url)
    providers = PSAConnections(settings)
    try:
        async with database.read() as db:
            account = await get_account_by_slug(db, DEFAULT_ACCOUNT)
        setup = providers.for_account(account).setup
        assert setup is not None
        await install_registrations(
            setup, account.slug, str(settings.public_url), False, lambda line: None
        )
    finally:
        await providers.aclose()
        await database.dispose()
