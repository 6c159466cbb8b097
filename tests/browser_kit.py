"""What the browser tests share: one Chromium per test module (Debian's, through
Playwright), and per test a fresh service on loopback with its own database and the
ConnectWise simulator. Everything runs in the module's event loop, so the servers are
started inside each test (`pod_env`) rather than by function-scoped fixtures.

Also: screenshots of a page at 1280 and 400 px into SCREENSHOT_DIR, and an axe-core check
(tests/vendor/axe.min.js, evaluated in the page: it is not served by the app, and the pages'
CSP does not apply to what the test runs through the browser's protocol).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Frame, FrameLocator, Page, async_playwright
from pydantic import SecretStr

import plugin.features.scripts
from plugin.app import create_app
from plugin.features.accounts.auth import create_token
from plugin.features.fixes.models import SuggestedFix
from plugin.features.scripts.service import import_templates
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.appkeys import DATABASE
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa.simulator import SimulatorState, create_simulator_app
from tests.fake_anthropic import FakeAnthropic

CHROMIUM = "/usr/bin/chromium"
LIBRARY = Path(plugin.features.scripts.__file__).parent / "library.json"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
REPO = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = Path(
    os.environ.get("FIXPILOT_SCREENSHOT_DIR", REPO / "test-artifacts" / "screenshots")
)
RESOLVED_STATUS = 4  # "Resolved" on the demo Help Desk board
WIDTHS = (1280, 400)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PodEnv:
    app_server: TestServer
    sim_server: TestServer
    sim: SimulatorState
    fake_llm: FakeAnthropic | None

    @property
    def app(self):
        return self.app_server.app

    @property
    def database(self):
        return self.app[DATABASE]

    def url(self, path: str, **query: Any) -> str:
        return str(self.app_server.make_url(path).with_query({k: str(v) for k, v in query.items()}))

    def screen(self, ticket: int, framed_url: str, member: str = "jsmith") -> str:
        """The simulated ticket screen framing `framed_url` (the pod or another page)."""
        return str(
            self.sim_server.make_url(f"/_sim/ticket/{ticket}").with_query(
                pod=framed_url, member=member
            )
        )

    def pod_screen(self, ticket: int, member: str = "jsmith") -> str:
        return self.screen(ticket, self.url("/pod", id=ticket, screen="ticket"), member)

    async def token(self, role: str) -> str:
        async with self.database.write() as tx:
            account = await get_account_by_slug(tx, "default")
            token, _ = await create_token(tx, account, role=role, name=f"test {role}")
        return token

    async def set_preferences(self, **preferences: Any) -> None:
        async with self.database.write() as tx:
            account = await get_account_by_slug(tx, "default")
            account.preferences = {**(account.preferences or {}), **preferences}

    async def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        """The API as a script would use it (set-up and checks beside the browser)."""
        async with (
            ClientSession() as http,
            http.request(
                method,
                str(self.app_server.make_url(path)),
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            payload = await response.json() if response.status != 204 else None
            assert response.status < 300, (response.status, payload)
            return payload


def _settings(database_url: str, sim: SimulatorState, llm_url: str | None) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "log_format": "console",
        "anthropic_api_key": SecretStr("sk-ant-test-0000") if llm_url else None,
        "anthropic_base_url": llm_url,
        "llm_retry_backoff_seconds": 0.01,
        "llm_max_attempts": 2,
        "worker_poll_seconds": 0.05,
        "shipped_library": False,
        "cw_url": sim.api_url,
        "cw_company_id": sim.company_id,
        "cw_public_key": sim.public_key,
        "cw_private_key": SecretStr(sim.private_key),
        "cw_client_id": sim.client_id,
        "cw_api_member_id": sim.api_member_id,
        "psa_client_options": {"retry_backoff": 0.01, "max_attempts": 3, "timeout": 3.0},
    }
    return Settings.model_construct(**{**Settings().model_dump(), **values})


@asynccontextmanager
async def pod_env(database_factory, *, fake_llm: bool = False) -> AsyncIterator[PodEnv]:
    """The simulator, the service (its default account on the simulator, with the shipped
    templates and a resolved status) and, with `fake_llm`, the fake Anthropic API."""
    sim = SimulatorState.demo()
    sim.emit_callbacks = False
    sim_server = TestServer(create_simulator_app(sim))
    await sim_server.start_server()
    sim.site_url = str(sim_server.make_url("")).rstrip("/")
    sim.server = sim_server
    fake = FakeAnthropic() if fake_llm else None
    fake_server = TestServer(fake.app) if fake else None
    if fake_server is not None:
        await fake_server.start_server()
        fake.base_url = str(fake_server.make_url("")).rstrip("/")
    settings = _settings(await database_factory.migrated(), sim, fake.base_url if fake else None)
    app_server = TestServer(create_app(settings))
    await app_server.start_server()
    env = PodEnv(app_server, sim_server, sim, fake)
    async with env.database.write() as tx:
        account = await get_account_by_slug(tx, "default")
        account.preferences = {"cw_resolved_status_id": RESOLVED_STATUS}
        await import_templates(tx, account.id, json.loads(LIBRARY.read_text()), origin="library")
    try:
        yield env
    finally:
        await app_server.close()
        if fake is not None:
            fake.release_hangs()
            await fake_server.close()
        await sim.drain_callbacks()
        await sim_server.close()


async def add_fix(env: PodEnv, ticket: int, **fix: Any) -> tuple[int, int]:
    """An active session on `ticket` with one suggested fix (`fix`: its title, summary,
    confidence and script columns); returns the session's and the fix's ids."""
    async with env.database.write() as tx:
        account = await get_account_by_slug(tx, "default")
        assert account is not None
        ai_session = AISession(
            account_id=account.id,
            title=f"Ticket #{ticket}",
            psa_ticket_id=ticket,
            status="active",
            state_version=1,
            ticket_state="open",
        )
        tx.add(ai_session)
        await tx.flush()
        suggested = SuggestedFix(session_id=ai_session.id, status="suggested", **fix)
        tx.add(suggested)
        await tx.flush()
        return ai_session.id, suggested.id


async def new_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    page = await browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def pod_frame(page: Page) -> FrameLocator:
    return page.frame_locator("#pod-frame")


async def sign_in_with_token(page: Page, token: str) -> None:
    """The sign-in form a page shows outside ConnectWise."""
    await page.locator("#token-input").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#main").wait_for(state="visible")


def _screenshot_path(name: str, width: int) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR / f"{name}-{width}.png"


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


async def screenshots(page: Page, name: str) -> list[Path]:
    """The page at each width, full length, into SCREENSHOT_DIR (name-1280.png, …)."""
    paths = []
    size = page.viewport_size or {"width": 1280, "height": 900}
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": size["height"]})
        await page.wait_for_timeout(100)  # layout settles
        path = _screenshot_path(name, width)
        image = await page.screenshot(path=str(path), full_page=True)
        assert len(image) > 1000
        paths.append(path)
    await page.set_viewport_size(size)
    return paths


async def axe_violations(target: Page | Frame, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of at least `impacts` on the page as it stands."""
    source = _axe_source()
    result = await target.evaluate(
        "async (source) => { if (!window.axe) { (0, eval)(source); }"
        " const r = await window.axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }",
        source,
    )
    return [v for v in result if v["impact"] in impacts]
