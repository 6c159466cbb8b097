"""Test fixtures. The suite runs on one backend per run: FIXPILOT_TEST_DB=sqlite (default)
or postgresql (the README's test command runs both). Each test gets a fresh database
cloned from one migrated template, and drops it afterwards. A test that never asks for a
database of the backend under test (pure functions, the demo on its own embedded SQLite)
answers the same on both, so the PostgreSQL run leaves it to the SQLite run."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from plugin.kernel.settings import Settings

BACKEND = os.environ.get("FIXPILOT_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "FIXPILOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

pytest_plugins = ["tests.fake_anthropic"]


def pytest_report_header(config) -> str:
    return f"fixpilot database backend: {BACKEND}"


def pytest_collection_modifyitems(config, items) -> None:
    if BACKEND == "sqlite" or os.environ.get("FIXPILOT_TEST_EVERY_TEST_ON_EACH_BACKEND"):
        return
    on_backend = [item for item in items if "database_factory" in item.fixturenames]
    if len(on_backend) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in set(on_backend)])
        items[:] = on_backend


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


async def _pg_admin(*statements: str) -> None:
    import asyncpg

    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class DatabaseFactory:
    """Creates empty or migrated databases on the backend under test and drops them all."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []
        self.template: str | None = None

    async def empty(self) -> str:
        name = f"fxtest_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        if BACKEND == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp / (name + '.db')}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        return _pg_url(name)

    async def migrated(self) -> str:
        from plugin.kernel.migrate import upgrade

        if self.template is None:
            url = await self.empty()
            await upgrade(url)
            self.template = url
        name = f"fxtest_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        if BACKEND == "sqlite":
            src = Path(self.template.split("///", 1)[1])
            dst = self.tmp / (name + ".db")
            shutil.copyfile(src, dst)
            return f"sqlite+aiosqlite:///{dst}"
        template_name = self.template.rsplit("/", 1)[1]
        await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        return _pg_url(name)

    async def drop_all(self) -> None:
        if BACKEND != "sqlite" and self.created:
            await _pg_admin(*[f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in self.created])


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    asyncio.run(factory.drop_all())


@pytest.fixture
async def database_url(database_factory) -> str:
    return await database_factory.migrated()


@pytest.fixture
def make_settings(database_url):
    def make(**overrides) -> Settings:
        values = {
            "database_url": database_url,
            "log_format": "console",
            "anthropic_api_key": None,
            "anthropic_base_url": None,
            "cw_url": None,
            "worker_poll_seconds": 0.05,
            # Each test builds the script library it needs (tests/test_shipped_library.py
            # covers the shipped one).
            "shipped_library": False,
        }
        values.update(overrides)
        return Settings.model_construct(**{**Settings().model_dump(), **values})

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
async def client(aiohttp_client, settings) -> AsyncIterator:
    from plugin.app import create_app

    yield await aiohttp_client(create_app(settings))


async def _token(client, role: str) -> str:
    from plugin.features.accounts.auth import create_token
    from plugin.kernel.appkeys import DATABASE
    from plugin.kernel.tenancy import get_account_by_slug

    db = client.app[DATABASE]
    async with db.write() as session:
        account = await get_account_by_slug(session, "default")
        token, _ = await create_token(session, account, role=role)
    return token


@pytest.fixture
async def admin_headers(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {await _token(client, 'admin')}"}


@pytest.fixture
async def engineer_headers(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {await _token(client, 'engineer')}"}


@pytest.fixture
async def llm_client(aiohttp_client, make_settings, fake_anthropic):
    """An app whose LLM is the real Anthropic SDK talking to the fake Anthropic API."""
    from pydantic import SecretStr

    from plugin.app import create_app

    settings = make_settings(
        anthropic_api_key=SecretStr("sk-ant-test-0000"),
        anthropic_base_url=fake_anthropic.base_url,
        llm_retry_backoff_seconds=0.01,
        llm_max_attempts=3,
        llm_timeout_seconds=5.0,
    )
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def llm_headers(llm_client) -> dict[str, str]:
    return {"Authorization": f"Bearer {await _token(llm_client, 'engineer')}"}


@pytest.fixture
async def cw_sim(aiohttp_server):
    """The ConnectWise simulator on loopback, seeded with the demo data. Yields its state
    (`.api_url`, `.tickets`, `.notes`, `.faults`, ...)."""
    from providers.psa.simulator import SimulatorState, create_simulator_app

    state = SimulatorState.demo()
    state.emit_callbacks = False
    server = await aiohttp_server(create_simulator_app(state))
    state.site_url = str(server.make_url("")).rstrip("/")
    state.server = server
    yield state
    await state.drain_callbacks()


@pytest.fixture
def cw_settings(make_settings, cw_sim):
    """Settings whose default account talks to the simulator (fast retries for tests)."""

    def make(**overrides) -> Settings:
        from pydantic import SecretStr

        values = {
            "cw_url": cw_sim.api_url,
            "cw_company_id": cw_sim.company_id,
            "cw_public_key": cw_sim.public_key,
            "cw_private_key": SecretStr(cw_sim.private_key),
            "cw_client_id": cw_sim.client_id,
            "cw_api_member_id": cw_sim.api_member_id,
            "psa_client_options": {"retry_backoff": 0.01, "max_attempts": 3, "timeout": 3.0},
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
async def cw_client(aiohttp_client, cw_settings):
    from plugin.app import create_app

    return await aiohttp_client(create_app(cw_settings()))


@pytest.fixture
async def cw_admin_headers(cw_client) -> dict[str, str]:
    return {"Authorization": f"Bearer {await _token(cw_client, 'admin')}"}


@pytest.fixture
async def cw_engineer_headers(cw_client) -> dict[str, str]:
    return {"Authorization": f"Bearer {await _token(cw_client, 'engineer')}"}
