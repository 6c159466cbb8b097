"""Issue 11 in the pod, in a real browser: the engineer sees what the AI saw (each [REDACTED]
of their own message as a chip naming its kind), and a secret pasted on purpose fills a
sensitive script parameter without ever reaching the LLM."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.browser_kit import chromium, new_page, pod_env, pod_frame
from tests.fake_anthropic import FakeAnthropic

expect.set_options(timeout=10_000)
pytestmark = pytest.mark.asyncio(loop_scope="module")
TICKET = 5004
NET_USE = r"net use Z: \\fs01\it /user:corp\svc Vx7#kq2Lm"
PASTED = "Quartz-Ninety-7!ledger"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as shared:
        yield shared


async def test_redacted_secret_shows_as_a_chip_with_its_kind(browser, database_factory):
    async with pod_env(database_factory) as env:
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = pod_frame(page)
        await pod.locator("#composer-input").fill(NET_USE)
        await pod.locator("#composer-input").press("Enter")
        await expect(pod.locator(".msg.assistant:not(.streaming)")).to_have_count(1)
        mine = pod.locator(".msg.user").last
        chip = mine.locator(".redacted-chip")
        await expect(chip).to_have_count(1)
        await expect(mine).not_to_contain_text("Vx7#kq2Lm")
        await expect(mine).to_contain_text(r"net use Z: \\fs01\it /user:corp\svc")

        engineer = await env.token("engineer")
        sessions = await env.call("GET", f"/api/v1/ai-sessions?psa_ticket_id={TICKET}", engineer)
        messages = await env.call(
            "GET", f"/api/v1/ai-sessions/{sessions['items'][0]['id']}/messages", engineer
        )
        kind = messages["items"][0]["redactions"][0]
        label = kind.replace("_", " ")
        await expect(chip).to_have_attribute("data-kind", label)
        tooltip = "e => getComputedStyle(e, '::after').visibility"
        assert await chip.evaluate(tooltip) == "hidden"
        await chip.hover()
        assert await chip.evaluate(tooltip) == "visible"
        assert await chip.evaluate("e => getComputedStyle(e, '::after').content") == f'"{label}"'
        await chip.blur()
        await page.mouse.move(0, 0)
        await chip.focus()  # the keyboard shows it too
        assert await chip.evaluate(tooltip) == "visible"
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_pasted_secret_fills_a_parameter_and_never_reaches_the_llm(browser, database_factory):
    async with pod_env(database_factory, fake_llm=True) as env:
        engineer = await env.token("engineer")
        templates = await env.call("GET", "/api/v1/scripts/templates?limit=500", engineer)
        reset = next(t for t in templates["items"] if t["slug"] == "reset-ad-password")
        suggestion = {
            "title": "Reset jdoe's password",
            "summary": "Reset it and unlock the account.",
            "confidence": 80,
            "template_id": reset["id"],
            "parameters": {"user_name": "jdoe"},
        }
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = pod_frame(page)
        # Once the lane's similar tickets are in (their query expansion asks the LLM too),
        # the next LLM call is the chat turn.
        await expect(pod.locator("#similar")).to_contain_text("No similar resolved tickets")
        env.fake_llm.script(
            FakeAnthropic.text(
                f"Reset the password.\n[SUGGEST_FIX]{json.dumps(suggestion)}[/SUGGEST_FIX]"
            )
        )

        # Handed over on purpose: remembered, never put in the chat.
        await pod.get_by_role("button", name="Paste a secret").click()
        await pod.locator("#ask-input").fill("jdoe's new password")
        await pod.locator("#ask-secret").fill(PASTED)
        await pod.get_by_role("button", name="Remember it").click()
        await expect(pod.locator("#toast")).to_contain_text('Remembered "jdoe\'s new password"')
        await expect(pod.locator("#messages")).not_to_contain_text(PASTED)

        await pod.locator("#composer-input").fill("jdoe is locked out and forgot the password")
        await pod.locator("#composer-input").press("Enter")
        card = pod.locator("#fix-card")
        await expect(card.locator("#fix-title")).to_have_text("Reset jdoe's password")
        await card.get_by_role("button", name="Open script").click()
        picker = pod.locator("#param-new_password-secret")
        await picker.select_option(label="jdoe's new password")
        await expect(pod.locator("#param-new_password")).to_be_disabled()
        await pod.locator("#script-dialog").get_by_role("button", name="Generate").click()
        rendered = pod.locator("#script-dialog .script-output code")
        await expect(rendered).to_contain_text(PASTED)  # the script to run has it
        await pod.locator("#script-dialog").get_by_role("button", name="Close", exact=True).click()

        # Another turn: the LLM sees the session again, never the pasted value.
        await pod.locator("#composer-input").fill("Generated it, running it now")
        await pod.locator("#composer-input").press("Enter")
        await expect(pod.locator(".msg.assistant:not(.streaming)")).to_have_count(2)
        assert len(env.fake_llm.requests) >= 2
        assert PASTED not in json.dumps(env.fake_llm.requests)
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()
