"""`fixpilot demo`: the service on its embedded defaults with the ConnectWise simulator.

SQLite in the working directory, the simulator seeded with demo boards and tickets (on its
own port, as a separate "ConnectWise"), the shipped script library, sensible status
settings, and a printed link to a simulated ticket screen that hosts the pod.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from pydantic import SecretStr

from plugin.settings import Settings

LIBRARY = Path(__file__).parent / "scripts" / "library.json"
DEMO_PREFERENCES = {
    "cw_resolved_status_id": 4,
    "cw_escalated_status_id": 5,
    "board_overrides": {"2": {"resolved": 14, "escalated": 15}},
    "auto_open_boards": [1],
}


async def run_demo(settings: Settings, *, sim_port: int) -> None:
    from plugin.accounts.auth import create_token
    from plugin.accounts.service import ensure_default_account, get_account_by_slug
    from plugin.app import create_app
    from plugin.db import Database
    from plugin.logging import configure_logging
    from plugin.migrate import upgrade
    from plugin.scripts.service import import_templates
    from providers.psa.simulator import SimulatorState, create_simulator_app

    configure_logging(settings.log_format or "console", settings.log_level)
    state = SimulatorState.demo()
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
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        await ensure_default_account(db, settings)
        async with db.write() as session:
            account = await get_account_by_slug(session, "default")
            counts = await import_templates(
                session, account.id, json.loads(LIBRARY.read_text()), origin="library"
            )
            if not account.preferences:
                account.preferences = DEMO_PREFERENCES
            token, _ = await create_token(session, account, role="admin", name="demo")
    finally:
        await db.dispose()

    app_runner = web.AppRunner(create_app(settings), access_log=None)
    await app_runner.setup()
    await web.TCPSite(app_runner, settings.host, settings.port).start()
    await _register_callbacks(settings, settings.database_url)

    pod = f"{public_url}/pod?id=5001&screen=ticket"
    assistant = (
        f"Claude ({settings.llm_model})"
        if settings.anthropic_api_key
        else "offline (set ANTHROPIC_API_KEY for Claude)"
    )
    print(
        f"""
Fixpilot demo is running.
  Service:           {public_url}   (GET /healthz, /api/openapi.json)
  ConnectWise (sim): {state.site_url}   ({len(state.tickets)} demo tickets, boards 1 and 2)
  Script library:    {counts["created"]} added, {counts["updated"]} updated
  Assistant:         {assistant}

Open the pod inside a simulated ConnectWise ticket screen:
  {state.site_url}/_sim/ticket/5001?pod={quote(pod, safe="")}

An admin API token for curl (shown once):
  {token}

Ctrl-C stops it.""",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app_runner.cleanup()
    await sim_runner.cleanup()


async def _register_callbacks(settings: Settings, db_url: str) -> None:
    """Register the callback and the pod with the simulator, as `connectwise install` does,
    so ticket changes made in the simulator reach the service."""
    from plugin.accounts.service import get_account_by_slug
    from plugin.callbacks.setup_commands import install_registrations
    from plugin.db import Database
    from plugin.psa import PSAProviders

    db = Database(db_url)
    providers = PSAProviders(settings)
    try:
        async with db.read() as session:
            account = await get_account_by_slug(session, "default")
        await install_registrations(
            providers.for_account(account), account, settings, dry_run=False
        )
    finally:
        await providers.aclose()
        await db.dispose()
