"""`fixpilot demo`: the service on its embedded defaults with the ConnectWise simulator.

SQLite in the working directory (or FIXPILOT_DATABASE_URL), the simulator seeded with demo
boards and tickets on its own port (`--sim-port`), as a separate "ConnectWise" whose
records are kept in a file beside the database (so a restart keeps tickets and notes in
step with Fixpilot's sessions), the shipped script library, sensible status settings, an
admin and an engineer token (a restart replaces them), and the environment line that points
the other commands at this database.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.engine import make_url

from plugin.app import create_app
from plugin.cli import CommandError
from plugin.features.accounts.auth import create_token
from plugin.features.accounts.models import ApiToken
from plugin.features.accounts.service import ensure_default_account, instance_keys
from plugin.features.psa_setup.install import install_registrations
from plugin.features.scripts.shipped import load_shipped_library
from plugin.features.search.history import import_history
from plugin.kernel.db import Database, utcnow
from plugin.kernel.logging import configure_logging
from plugin.kernel.migrate import upgrade
from plugin.kernel.psa import PSAConnections
from plugin.kernel.settings import Settings
from plugin.kernel.states import TokenKind, TokenRole
from plugin.kernel.tenancy import DEFAULT_ACCOUNT, Account, get_account_by_slug
from providers.psa.simulator import SimulatorState, create_simulator_app

DEMO_PREFERENCES = {
    "cw_resolved_status_id": 4,
    "cw_escalated_status_id": 5,
    "board_overrides": {"2": {"resolved": 14, "escalated": 15}},
    "auto_open_boards": [1],
}
# The demo's own tokens, by name: each start revokes the previous ones and makes new ones.
DEMO_TOKENS = {"demo": TokenRole.ADMIN, "demo-engineer": TokenRole.ENGINEER}
SIM_STATE_SUFFIX = ".connectwise-sim.json"
# The simulator's closed tickets go back 400 days; the demo learns from all of them.
DEMO_HISTORY_DAYS = 400


def command(settings: Settings, args: argparse.Namespace) -> int:
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    state_file = args.sim_state or sim_state_file(settings.database_url)
    try:
        state = (
            SimulatorState.load(state_file)
            if state_file.exists()
            else SimulatorState.demo(history=True)
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(
            f"cannot read the simulator's state {state_file}: {exc} (delete it to start over)"
        ) from None
    try:
        asyncio.run(run_demo(settings, state, sim_port=args.sim_port, state_file=state_file))
    except OSError as exc:
        raise CommandError(f"cannot start the demo: {exc}") from None
    return 0


def sim_state_file(database_url: str) -> Path:
    """Beside a SQLite database (demo-data/fixpilot.db → demo-data/fixpilot.connectwise-
    sim.json); in the working directory for any other database."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        return database.with_name(database.stem + SIM_STATE_SUFFIX)
    return Path("fixpilot-demo" + SIM_STATE_SUFFIX)


@dataclass
class Prepared:
    library: dict[str, int] | None  # None: the shipped library is switched off
    tokens: dict[str, str]  # role → token
    history: int = 0  # closed tickets imported as similar-work history


async def run_demo(
    settings: Settings, state: SimulatorState, *, sim_port: int, state_file: Path
) -> None:
    configure_logging(settings.log_format or "console", settings.log_level)
    state.site_url = f"http://{settings.host}:{sim_port}"
    sim_runner = web.AppRunner(create_simulator_app(state, state_file=state_file))
    await sim_runner.setup()
    await web.TCPSite(sim_runner, settings.host, sim_port).start()
    state.save(state_file)  # from the first start on, the file is the simulator's memory

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
    prepared = await _prepare_database(settings)
    app_runner = web.AppRunner(create_app(settings), access_log=None)
    await app_runner.setup()
    await web.TCPSite(app_runner, settings.host, settings.port).start()
    await _register_callbacks(settings)
    prepared.history = await _import_history(settings)
    print(_banner(settings, state, state_file, prepared), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app_runner.cleanup()
    await sim_runner.cleanup()  # saves the simulator's records a last time


async def _prepare_database(settings: Settings) -> Prepared:
    """Migrate, configure the default account, load the library, replace the demo tokens."""
    await upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        await ensure_default_account(database, settings)
        async with database.write() as tx:
            account = await get_account_by_slug(tx, DEFAULT_ACCOUNT)
            library = None
            if settings.shipped_library:
                library = await load_shipped_library(tx, account.id)
            if not account.preferences:
                account.preferences = DEMO_PREFERENCES
            tokens = await _replace_demo_tokens(tx, account)
    finally:
        await database.dispose()
    return Prepared(library, tokens)


async def _replace_demo_tokens(tx, account: Account) -> dict[str, str]:
    """Revoke the tokens earlier starts printed, and make this start's (shown once)."""
    await tx.execute(
        update(ApiToken)
        .where(
            ApiToken.account_id == account.id,
            ApiToken.kind == TokenKind.API,
            ApiToken.name.in_(list(DEMO_TOKENS)),
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    tokens = {}
    for name, role in DEMO_TOKENS.items():
        tokens[role], _ = await create_token(tx, account, role=role, name=name)
    return tokens


def database_env_line(database_url: str) -> str:
    """`FIXPILOT_DATABASE_URL=… fixpilot`, with a SQLite path made absolute so the line works
    from any directory (a PostgreSQL password is left out: add your own)."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database).resolve()))
    shown = url.render_as_string(hide_password=True)
    return f"FIXPILOT_DATABASE_URL={shlex.quote(shown)} {fixpilot_command()}"


def fixpilot_command() -> str:
    """How to run this installation's `fixpilot`: the script beside this Python if there
    is one (the demo's virtualenv need not be on PATH), else `python -m plugin`."""
    script = Path(sys.executable).with_name("fixpilot")
    if script.is_file():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m plugin"


def _banner(settings: Settings, state: SimulatorState, state_file: Path, ready: Prepared) -> str:
    public_url = settings.public_url
    pod = f"{public_url}/pod?id=5001&screen=ticket"
    assistant = (
        f"Claude ({settings.llm_model})"
        if settings.anthropic_api_key
        else "offline (set ANTHROPIC_API_KEY for Claude)"
    )
    library = (
        f"{ready.library['created']} added, {ready.library['updated']} updated"
        if ready.library is not None
        else "not loaded (FIXPILOT_SHIPPED_LIBRARY is off)"
    )
    return f"""
Fixpilot demo is running.
  Service:           {public_url}   (GET /healthz, /api/openapi.json)
  ConnectWise (sim): {state.site_url}   (--sim-port; {len(state.tickets)} tickets, boards 1 and 2)
  Simulator state:   {state_file.resolve()}
                     (tickets and notes survive a restart, in step with the database;
                     delete both to start over)
  Script library:    {library}
  Similar work:      {ready.history} closed tickets imported as history
  Assistant:         {assistant}

The simulated ConnectWise's tickets, each opening with the pod:
  {state.site_url}/_sim/tickets
or one ticket screen with the pod:
  {state.site_url}/_sim/ticket/5001?pod={quote(pod, safe="")}

The other pages (outside ConnectWise they ask for a token below; the pod links to them):
  {public_url}/scripts   the script library     {public_url}/scripts/builder   Script Builder
  {public_url}/admin     the admin page (the admin token)

API tokens for curl and the pages (shown once; the next start replaces them):
  admin     {ready.tokens[TokenRole.ADMIN]}
  engineer  {ready.tokens[TokenRole.ENGINEER]}

Other commands use this demo's database with this prefix, e.g. another token:
  {database_env_line(settings.database_url)} tokens create --role engineer --name me

Ctrl-C stops it."""


async def _import_history(settings: Settings) -> int:
    """What `fixpilot connectwise import-history` does, over the simulator's closed tickets
    (resumable: a restart imports only what changed)."""
    database = Database(settings.database_url)
    providers = PSAConnections(settings, await instance_keys(database, settings))
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
    providers = PSAConnections(settings, await instance_keys(database, settings))
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
