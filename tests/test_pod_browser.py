"""The pod in a real browser (Debian's chromium through Playwright), framed by the simulated
ConnectWise ticket screen: the Hosted API handshake, the fix lifecycle, the write-back."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select, update

from plugin.features.accounts.auth import TOKEN_CACHE
from plugin.features.accounts.models import ApiToken
from plugin.features.fixes.models import SuggestedFix
from plugin.kernel.appkeys import LLM
from providers.llm import LLMUnavailable
from providers.psa.simulator import DEMO_MEMBER_CONTEXT, DEMO_MEMBER_HASH
from tests.browser_kit import add_fix, chromium, new_page, pod_env

TICKET = 5001
RESOLVED_STATUS = 4  # "Resolved" on the demo Help Desk board

expect.set_options(timeout=10_000)
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as shared:
        yield shared


def track_sign_ins(page: Page) -> list[dict]:
    """The bodies of the pod's sign-in requests."""
    sign_ins: list[dict] = []
    page.on(
        "request",
        lambda r: sign_ins.append(json.loads(r.post_data)) if "/pod/session" in r.url else None,
    )
    return sign_ins


async def test_engineer_works_a_ticket_in_the_pod(browser, database_factory):
    async with pod_env(database_factory) as env:
        await _work_a_ticket(browser, env)


async def _work_a_ticket(browser, env):
    # The site takes a member's hash only with its memberContext, as Hosted API cookies.
    env.sim.member_hash_over_basic = False
    page = await new_page(browser, 1000, 1100)
    sign_ins = track_sign_ins(page)
    await page.goto(env.pod_screen(TICKET))
    pod = page.frame_locator("#pod-frame")

    # Signed in through the Hosted API handshake; the session is opened for the ticket.
    await expect(pod.locator("#member")).to_have_text("John Smith")
    assert sign_ins[0]["memberContext"] == DEMO_MEMBER_CONTEXT  # forwarded by the pod
    await expect(pod.locator("#ticket-title")).to_contain_text(f"#{TICKET}")
    # beforeSave is answered, so ConnectWise can save the ticket.
    await page.click("#sim-save")
    await expect(page.locator("#sim-save-state")).to_have_text("Saved")

    # Chat: a streamed reply, and the suggested fix with its confidence, in the lane.
    await pod.locator("#composer-input").fill(
        "Print queue stuck at the front desk: looks like a hung service on the remote "
        "print server host: PRN-01. Restart service over winrm?"
    )
    await pod.locator("#composer-input").press("Enter")
    reply = pod.locator(".msg.assistant").last
    await expect(reply).to_contain_text("Restart a service on a remote computer")
    await expect(reply.locator(".msg-meta")).to_contain_text("offline (no AI)")
    card = pod.locator("#lane #fix-card")
    await expect(card.locator("#fix-title")).to_have_text("Restart a service on a remote computer")
    # The offline assistant's confidence follows how strongly the template matched.
    await expect(card.locator(".badge.confidence")).to_have_text(
        re.compile(r"^[1-9]\d% confidence$")
    )

    # Facts, in the lane: added and deleted; the notes are built from them.
    fact_input = pod.locator("#fact-input")
    for fact in ("The Spooler service on PRN-01 was hung", "A typo to delete"):
        await fact_input.fill(fact)
        await fact_input.press("Enter")
        await expect(pod.locator("#facts .fact-text").last).to_have_text(fact)
    await pod.get_by_role("button", name="Delete fact: A typo to delete").click()
    await expect(pod.locator("#facts .fact-text")).to_have_text(
        ["The Spooler service on PRN-01 was hung"]
    )
    await expect(pod.locator("#facts-count")).to_have_text("1")

    # The script panel: parameters pre-filled from the session, then generated.
    await card.get_by_role("button", name="Open script").click()
    dialog = pod.locator("#script-dialog")
    await expect(pod.locator("#param-computer_name")).to_have_value("PRN-01")
    computer_label = dialog.locator("label[for='param-computer_name']")
    await expect(computer_label.locator(".tag")).to_have_text("from session")
    await expect(dialog.locator("label[for='param-service_name'] .tag")).to_have_count(0)
    await pod.locator("#param-service_name").fill("Spooler")
    await dialog.get_by_role("button", name="Generate").click()
    script = dialog.locator(".script-output code")
    await expect(script).to_contain_text("PRN-01")
    await expect(script).to_contain_text("Spooler")
    await expect(dialog.locator(".script-output .btn", has_text="Download")).to_contain_text(".ps1")
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await expect(dialog).to_be_hidden()

    # Applied → verifying; "Waiting to verify" (a labelled button) → pending; Worked.
    await card.get_by_role("button", name="Mark applied").click()
    banner = pod.locator("#banner")
    await expect(banner).to_have_attribute("data-mode", "verifying")
    await expect(banner).to_contain_text("Verifying")
    await banner.get_by_role("button", name="Waiting to verify").click()
    await pod.locator("#ask-input").fill("Front desk prints a test page after lunch")
    await pod.locator("#ask-ok").click()
    await expect(banner).to_have_attribute("data-mode", "pending")
    await expect(banner).to_contain_text("Front desk prints a test page after lunch")
    await banner.get_by_role("button", name="Worked").click()
    await expect(banner).to_be_hidden()
    await expect(card.locator(".chip")).to_have_text("Worked")

    # The pod token expires: the next call signs in again through ConnectWise and goes on.
    async with env.database.write() as session:
        await session.execute(
            update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    # Written behind the service's back: a replica honours it once its token cache (5 s)
    # lets go, as it does here at once.
    env.app[TOKEN_CACHE].clear()

    # Resolve: the preview opens at its top, edited, posted; the screen is asked to refresh.
    await pod.locator("#resolve-btn").click()
    text = pod.locator("#wrapup-text")
    await expect(text).to_be_enabled()
    await expect(pod.locator("#wrapup-about")).to_contain_text("Drafted offline (no AI)")
    assert await text.evaluate("t => [t.scrollTop, t.selectionStart]") == [0, 0]
    draft = await text.input_value()
    for heading in ("## Problem", "## What we confirmed", "## Root cause", "## Resolution"):
        assert heading in draft
    assert "The Spooler service on PRN-01 was hung" in draft
    assert "A typo to delete" not in draft
    edited = draft.rstrip() + "\n\nChecked with Maria at the front desk: printing works."
    await text.fill(edited)
    await pod.get_by_role("button", name="Confirm & post").click()
    result = pod.locator("#wrapup-result")
    await expect(result).to_contain_text("Resolved (verified)")
    await expect(page.locator("#sim-status")).to_have_text("Resolved")
    await expect(page.locator("#sim-loads")).to_have_text("2")

    assert len(sign_ins) == 2
    notes = [n for n in env.sim.notes[TICKET] if n["resolutionFlag"]]
    assert len(notes) == 1
    assert "Checked with Maria at the front desk: printing works." in notes[0]["text"]
    assert notes[0]["member"]["identifier"] == "jsmith"  # the engineer's note, in ConnectWise
    assert env.sim.tickets[TICKET]["status"]["id"] == RESOLVED_STATUS
    log = await page.locator("#protocol-log").text_content()
    assert '"hosted_request":"refreshScreen"' in log
    assert '"event":"onLoad"' in log and '"result":"success"' in log
    assert page.errors == []  # type: ignore[attr-defined]
    await page.close()


async def test_status_not_applied_is_reported_and_retried(browser, database_factory):
    async with pod_env(database_factory) as env:
        # A ConnectWise workflow rule moves resolved tickets back to "In Progress" (id 2).
        env.sim.workflow_revert_status = {RESOLVED_STATUS: 2}
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = page.frame_locator("#pod-frame")
        await pod.locator("#resolve-btn").click()
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        await pod.get_by_role("button", name="Confirm & post").click()
        result = pod.locator("#wrapup-result")
        await expect(result).to_contain_text("Expected status #4")
        await expect(result).to_contain_text("In Progress (#2)")
        await expect(page.locator("#sim-status")).to_have_text("In Progress")  # refreshed
        await pod.locator("#wrapup-cancel").click()

        notice = pod.locator("#notices .notice.error")
        await expect(notice).to_contain_text("could not be written")
        env.sim.workflow_revert_status = {}
        await notice.get_by_role("button", name="Retry").click()
        await expect(pod.locator("#notices")).to_contain_text("This session is resolved.")
        await expect(notice).to_have_count(0)
        assert len([n for n in env.sim.notes[TICKET] if n["resolutionFlag"]]) == 1  # once
        assert env.sim.tickets[TICKET]["status"]["id"] == RESOLVED_STATUS
        # Closed: no Resolve, but a KB article from what was learned.
        await expect(pod.locator("#resolve-btn")).to_be_hidden()
        await pod.get_by_role("button", name="Write a KB article").click()
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        assert "## Symptoms" in await pod.locator("#wrapup-text").input_value()
        await pod.get_by_role("button", name="Save article").click()
        await expect(pod.locator("#wrapup-result")).to_contain_text("Saved in Fixpilot")
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


class DownLLM:
    """An assistant whose provider is down (after its retries)."""

    async def generate(self, request):
        raise LLMUnavailable("the LLM is down")

    async def stream(self, request):
        raise LLMUnavailable("the LLM is down")
        yield  # an async generator

    async def aclose(self) -> None:
        return None


async def test_unavailable_assistant_offers_a_retry(browser, database_factory):
    async with pod_env(database_factory) as env:
        # The app's LLM answers like DownLLM until the engineer retries.
        llm, down = env.app[LLM], DownLLM()
        llm.generate, llm.stream = down.generate, down.stream
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = page.frame_locator("#pod-frame")
        await pod.locator("#composer-input").fill("The print queue is stuck again")
        await pod.get_by_role("button", name="Send").click()
        failed = pod.locator(".msg.error")
        await expect(failed).to_contain_text("Assistant unavailable")

        del llm.generate, llm.stream  # working again
        await failed.get_by_role("button", name="Retry").click()
        await expect(pod.locator(".msg.assistant")).to_contain_text("Print Spooler")
        await expect(failed).to_have_count(0)
        await expect(pod.locator(".msg.user")).to_have_count(1)  # asked once, answered once
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


DANGEROUS_SCRIPT = (
    "Stop-Service Spooler\nSet-MpPreference -DisableRealtimeMonitoring $true\nStart-Service Spooler"
)


async def test_fix_without_template_locks_its_run_options(browser, database_factory):
    async with pod_env(database_factory) as env:
        _, fix_id = await add_fix(
            env,
            TICKET,
            title="Clear the stuck jobs by hand",
            summary="Stop the spooler, delete the queued files, start it again.",
            confidence=40,
            ai_drafted_script=DANGEROUS_SCRIPT,
        )

        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = page.frame_locator("#pod-frame")
        card = pod.locator("#fix-card")
        await expect(card.locator(".badge.confidence")).to_have_text("40% confidence")
        # The lint's high finding, in red with its line, before anything runs.
        high = card.locator(".finding.high")
        await expect(high.first).to_contain_text("line 2")
        color = await high.first.evaluate("e => getComputedStyle(e).color")
        assert color == "rgb(180, 35, 24)"  # var(--bad)
        await card.get_by_role("button", name="Open script").click()

        script = pod.locator("#proposed-script")
        await expect(script).to_have_value(DANGEROUS_SCRIPT)
        dialog = pod.locator("#script-dialog")
        await expect(dialog.locator(".finding.high").first).to_be_visible()
        await dialog.get_by_role("button", name="Run once").click()
        await expect(dialog.locator(".script-output code")).to_have_text(DANGEROUS_SCRIPT)
        # A choice is final: no second draft from the same fix.
        for name in ("Run once", "Save as draft template", "Build template"):
            await expect(dialog.get_by_role("button", name=name)).to_be_disabled()
        await expect(dialog.locator(".chosen")).to_have_text("Chosen: Run once.")
        async with page.expect_download() as download_info:
            await dialog.locator(".script-output .btn", has_text="Download").click()
        download = await download_info.value
        assert download.suggested_filename.endswith(".ps1")
        saved = (await download.path()).read_bytes()
        assert saved.startswith(b"\xef\xbb\xbf") and b"\r\n" in saved  # BOM, CRLF

        async with env.database.read() as session:
            stored = await session.get(SuggestedFix, fix_id)
        assert stored.decision == "one_off"
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


# The simulated screen with a parent script that plays no part in the protocol: it frames
# the pod and records what the pod sends it; the test speaks for it.
SILENT_PARENT_JS = """
window.received = [];
window.addEventListener("message", (e) => window.received.push([e.origin, e.data]));
document.getElementById("pod-frame").src = document.body.dataset.podUrl;
"""


async def test_pod_ignores_messages_from_other_origins(browser, database_factory):
    async with pod_env(database_factory) as env:
        await _ignores_other_origins(browser, env)


async def _ignores_other_origins(browser, env):
    page = await new_page(browser)
    await page.route(
        "**/_sim/static/hosted.js",
        lambda route: route.fulfill(content_type="text/javascript", body=SILENT_PARENT_JS),
    )
    sign_ins = track_sign_ins(page)
    await page.goto(env.pod_screen(TICKET))
    await page.wait_for_function("window.received && window.received.length >= 1")
    origin, data = (await page.evaluate("window.received"))[0]
    # The pod announced itself to its parent, as a JSON string.
    assert json.loads(data) == {"message": "ready"}
    assert origin == str(env.app_server.make_url("")).rstrip("/")

    pod_frame = page.frame_locator("#pod-frame")
    await expect(pod_frame.locator("#connection")).to_contain_text("Connecting")
    frame = next(f for f in page.frames if f.url.startswith(env.url("/pod")))
    auth = {
        "response": "getmemberauthentication",
        "data": {"memberid": "jsmith", "memberHash": DEMO_MEMBER_HASH, "companyid": "x"},
    }
    # From the pod's own window: the service's origin, not ConnectWise's. Ignored.
    await frame.evaluate(
        """(auth) => new Promise((resolve) => {
            // Messages are delivered in order: once the sentinel arrives, the pod has seen
            // (and ignored) the others.
            window.addEventListener("message", (e) => e.data === "sentinel" && resolve());
            window.postMessage(JSON.stringify({MessageFrameID: "forged"}), "*");
            window.postMessage(JSON.stringify(auth), "*");
            window.postMessage("not json", "*");
            window.postMessage("sentinel", "*");
        })""",
        auth,
    )
    await expect(pod_frame.locator("#connection")).to_contain_text("Connecting")
    assert sign_ins == []
    assert len(await page.evaluate("window.received")) == 1  # no getMemberAuthentication
    async with env.database.read() as session:
        assert (await session.execute(select(ApiToken))).first() is None

    # The same messages from the ConnectWise parent are accepted: the handshake runs.
    await page.evaluate(
        """(auth) => {
            const pod = document.getElementById("pod-frame").contentWindow;
            const origin = new URL(document.getElementById("pod-frame").src).origin;
            pod.postMessage(JSON.stringify({MessageFrameID: "f-1"}), origin);
            pod.postMessage(JSON.stringify(auth), origin);
        }""",
        auth,
    )
    await expect(pod_frame.locator("#member")).to_have_text("John Smith")
    received = [json.loads(d) for _, d in await page.evaluate("window.received")]
    assert {"hosted_request": "getMemberAuthentication", "frameID": "f-1"} in received
    assert len(sign_ins) == 1
    assert page.errors == []  # type: ignore[attr-defined]


async def test_connectwise_down_the_note_waits_and_retry_posts_it_once(browser, database_factory):
    async with pod_env(database_factory) as env:
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = page.frame_locator("#pod-frame")
        await pod.locator("#resolve-btn").click()
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        env.sim.faults.down = True  # signed in already; ConnectWise goes away before posting
        await pod.get_by_role("button", name="Confirm & post").click()
        await expect(pod.locator("#wrapup-result")).to_contain_text("the note is queued")
        await pod.locator("#wrapup-cancel").click()

        notice = pod.locator("#notices .notice.warn", has_text="waiting to be written")
        await expect(notice).to_contain_text("Fixpilot keeps retrying")
        assert [n for n in env.sim.notes[TICKET] if n["resolutionFlag"]] == []
        env.sim.faults.down = False
        await notice.get_by_role("button", name="Retry").click()
        await expect(pod.locator("#notices")).to_contain_text("This session is resolved.")
        await expect(notice).to_have_count(0)
        assert len([n for n in env.sim.notes[TICKET] if n["resolutionFlag"]]) == 1
        assert env.sim.tickets[TICKET]["status"]["id"] == RESOLVED_STATUS
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()
