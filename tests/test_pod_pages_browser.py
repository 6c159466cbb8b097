"""Issue 14's acceptance in a real browser (Debian's chromium through Playwright): the
Script Builder, the library, the admin page, the task lane's checks, the command palette and
the outcome flow; and every page at 1280 and 400 px, checked by axe-core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.browser_kit import (
    add_fix,
    axe_violations,
    chromium,
    new_page,
    pod_env,
    pod_frame,
    screenshots,
    sign_in_with_token,
)

expect.set_options(timeout=10_000)
pytestmark = pytest.mark.asyncio(loop_scope="module")
TICKET = 5001
SECRET = "Winter2024!Sp00l"
ONE_OFF = (
    "$computer = 'PRN-07'\n"
    f"$secret = ConvertTo-SecureString '{SECRET}' -AsPlainText -Force\n"
    "Invoke-Command -ComputerName $computer -ScriptBlock { Restart-Service -Name Spooler -Force }"
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as shared:
        yield shared


async def one_off_fix(env, script: str = ONE_OFF) -> tuple[int, int]:
    """An active session on TICKET whose fix is a one-off script (no template)."""
    return await add_fix(
        env,
        TICKET,
        title="Restart the label printer's spooler",
        summary="Restart the spooler on the label print server.",
        confidence=55,
        edited_script=script,
    )


async def select_in(textarea, text: str) -> None:
    await textarea.evaluate(
        """(area, text) => {
            const start = area.value.indexOf(text);
            area.focus();
            area.setSelectionRange(start, start + text.length);
            area.dispatchEvent(new Event("select"));
        }""",
        text,
    )


async def test_builder_from_a_fix_to_a_published_template_that_is_suggested(
    browser, database_factory
):
    async with pod_env(database_factory) as env:
        session_id, fix_id = await one_off_fix(env)
        page = await new_page(browser, 1280, 1300)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
        builder_url = env.url(
            "/scripts/builder", from_session=session_id, fix=fix_id, ticket=TICKET
        )
        await page.goto(env.screen(TICKET, builder_url))
        builder = pod_frame(page)
        body = builder.locator("#body")
        await expect(body).to_have_value(ONE_OFF.replace(SECRET, "[REDACTED]"))
        await expect(builder.locator("#builder-source")).to_contain_text("mark them yourself")

        # Two parameters: the host, then the secret (sensitive: it has no example).
        await select_in(body, "PRN-07")
        await builder.get_by_role("button", name="Make the selection a parameter").click()
        await expect(builder.locator("#new-name")).to_have_value("computer")
        await builder.locator("#new-name").fill("computer_name")
        await builder.get_by_role("button", name="Add parameter").click()
        await select_in(body, "[REDACTED]")
        await builder.get_by_role("button", name="Make the selection a parameter").click()
        await expect(builder.locator("#new-sensitive")).to_be_checked()
        await builder.locator("#new-name").fill("service_password")
        await builder.get_by_role("button", name="Add parameter").click()
        await expect(body).to_have_value(
            "$computer = {{computer_name}}\n"
            "$secret = ConvertTo-SecureString {{service_password}} -AsPlainText -Force\n"
            "Invoke-Command -ComputerName $computer -ScriptBlock { Restart-Service -Name Spooler -Force }"
        )

        # The live preview: the example value, the secret as [REDACTED]; the round trip holds.
        preview = builder.locator("#preview")
        await expect(preview).to_contain_text("$computer = 'PRN-07'")
        await expect(preview).to_contain_text("ConvertTo-SecureString '[REDACTED]'")
        await expect(builder.locator("#round-trip")).to_contain_text(
            "gives back the script exactly"
        )
        await builder.locator("#param-0-example").fill("PRN-99")
        await expect(preview).to_contain_text("$computer = 'PRN-99'")
        await builder.locator("#name").fill("Restart the label printer spooler remotely")
        await builder.get_by_role("button", name="Save as draft").click()
        await expect(builder.locator("#save-result")).to_contain_text("Saved draft #")
        await expect(builder.get_by_role("button", name="Publish to the library")).to_be_hidden()
        assert not any(SECRET in request for request in sent)  # never sent anywhere
        await screenshots(page, "builder-framed")

        # An admin publishes the draft from the library (signed in with an API token).
        admin = await new_page(browser)
        await admin.goto(env.url("/scripts"))
        await sign_in_with_token(admin, await env.token("admin"))
        draft = admin.locator(".draft-card", has_text="Restart the label printer spooler remotely")
        await draft.get_by_text("Publish to the library").click()
        await draft.get_by_label("Description").fill(
            "Restarts the spooler of a Zebra label printer's print server."
        )
        await draft.get_by_label("Keywords").fill("zebra, label printer, labels")
        await draft.get_by_role("button", name="Publish").click()
        await expect(admin.locator("#toast")).to_contain_text("Published")
        card = admin.locator(
            ".template-card", has_text="Restart the label printer spooler remotely"
        )
        await expect(card).to_contain_text("0 runs")

        # The next suggestion is the new template.
        engineer = await env.token("engineer")
        other = await env.call("POST", "/api/v1/ai-sessions", engineer, {"title": "Labels"})
        turn = await env.call(
            "POST",
            f"/api/v1/ai-sessions/{other['id']}/messages",
            engineer,
            {"content": "The zebra label printer in the warehouse prints no labels"},
        )
        templates = await env.call("GET", "/api/v1/scripts/templates?limit=500", engineer)
        published = next(
            t
            for t in templates["items"]
            if t["name"] == "Restart the label printer spooler remotely"
        )
        assert turn["suggested_fix"]["template_id"] == published["id"]
        assert [p["name"] for p in published["parameters_schema"]] == [
            "computer_name",
            "service_password",
        ]
        assert published["parameters_schema"][1]["sensitive"] is True
        assert SECRET not in json.dumps(published)
        assert page.errors == [] and admin.errors == []  # type: ignore[attr-defined]
        await page.close()
        await admin.close()


async def test_library_search_track_record_and_acknowledged_findings(browser, database_factory):
    async with pod_env(database_factory) as env:
        engineer = await env.token("engineer")
        admin_token = await env.token("admin")
        page = await new_page(browser)
        await page.goto(env.url("/scripts"))
        await sign_in_with_token(page, admin_token)
        await page.get_by_label("Search").fill("spooler")
        card = page.locator(
            ".template-card", has_text="Restart the Print Spooler and clear its queue"
        )
        await expect(card).to_be_visible()
        await expect(page.locator("#templates .template-card").first).to_contain_text("Spooler")
        await expect(page.locator(".template-card", has_text="Unlock")).to_have_count(0)
        await expect(card.locator(".record")).to_contain_text("0 worked")

        # A worked outcome on a fix from this template shows in its track record.
        ai_session = await env.call("POST", "/api/v1/ai-sessions", engineer, {"title": "Spooler"})
        turn = await env.call(
            "POST",
            f"/api/v1/ai-sessions/{ai_session['id']}/messages",
            engineer,
            {"content": "The print spooler is stuck, the print queue does not move"},
        )
        fix = turn["suggested_fix"]
        base = f"/api/v1/ai-sessions/{ai_session['id']}/suggested-fixes/{fix['id']}"
        await env.call("POST", base + "/apply", engineer)
        await env.call("PATCH", base + "/outcome", engineer, {"outcome": "applied_success"})
        await page.reload()
        await page.get_by_label("Search").fill("spooler")
        await expect(card.locator(".record")).to_contain_text("1 run")
        await expect(card.locator(".record")).to_contain_text("1 worked")

        # A draft with a high finding is published only once the admin acknowledges it.
        await env.call(
            "POST",
            "/api/v1/scripts/draft-templates",
            engineer,
            {
                "name": "Turn Defender off for an installer",
                "language": "powershell",
                "templated_body": "Set-MpPreference -DisableRealtimeMonitoring $true",
            },
        )
        await page.reload()
        draft = page.locator(".draft-card", has_text="Turn Defender off for an installer")
        await expect(draft.locator(".finding.high")).to_contain_text("line 1")
        await draft.get_by_text("Publish to the library").click()
        await draft.get_by_role("button", name="Publish").click()
        await expect(draft.locator(".field-error")).to_contain_text("tick the acknowledgement")
        await draft.get_by_label("publish it anyway").check()
        await draft.get_by_role("button", name="Publish").click()
        await expect(page.locator(".template-card", has_text="Turn Defender off")).to_be_visible()
        await screenshots(page, "library")
        assert await axe_violations(page) == []
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_admin_page_sets_a_board_status_used_by_resolve(browser, database_factory):
    async with pod_env(database_factory) as env:
        # jsmith is an admin member: the admin page signs him in through ConnectWise.
        await env.set_preferences(admin_members=["jsmith"])
        page = await new_page(browser, 1280, 1400)
        await page.goto(env.screen(5008, env.url("/admin")))
        admin = pod_frame(page)
        board_2 = admin.locator("#boards tr[data-board='2']")
        await expect(board_2).to_contain_text("Escalations")
        await admin.get_by_label("Resolved status on Escalations").select_option(
            label="Closed (closed)"
        )
        await admin.get_by_role("button", name="Save settings").click()
        await expect(admin.locator("#save-status")).to_have_text("Saved.")

        # A bad origin: the error stands beside its field, nothing is saved.
        await admin.get_by_label("Extra ConnectWise origins").fill("http://cw.example.com")
        await admin.get_by_role("button", name="Save settings").click()
        error = admin.locator("#err-extra_pod_origins")
        await expect(error).to_contain_text("Line 1: must be an https origin")
        await expect(admin.get_by_label("Extra ConnectWise origins")).to_have_attribute(
            "aria-invalid", "true"
        )

        # API tokens: created (shown once), listed, revoked; the doctor's checks.
        await admin.get_by_label("Name", exact=True).fill("nightly export")
        await admin.get_by_role("button", name="Create token").click()
        await expect(admin.locator("#new-token")).to_contain_text("fxp_")
        row = admin.locator("#tokens tr", has_text="nightly export")
        await row.get_by_role("button", name="Revoke token nightly export").click()
        await expect(row).to_contain_text("revoked")
        await admin.get_by_role("button", name="Run the checks").click()
        await expect(admin.locator("#doctor .doctor-line.ok").first).to_be_visible()

        # A board-2 ticket resolved: ConnectWise shows the board's own status.
        engineer = await env.token("engineer")
        ai_session = await env.call(
            "POST", "/api/v1/ai-sessions", engineer, {"psa_ticket_id": 5008}
        )
        result = await env.call(
            "POST",
            f"/api/v1/ai-sessions/{ai_session['id']}/resolution-note/post",
            engineer,
            {"markdown": "## Resolution\nRe-ran the delta sync."},
        )
        assert result["status"]["id"] == 16
        await page.goto(env.screen(5008, env.url("/pod", id=5008, screen="ticket")))
        await expect(page.locator("#sim-status")).to_have_text("Closed")
        stored = await env.call("GET", "/api/v1/settings", engineer)
        assert stored["preferences"]["board_overrides"] == {"2": {"resolved": 16}}
        assert "extra_pod_origins" not in stored["preferences"]

        # A member who is not an admin is refused the admin page.
        other = await new_page(browser)
        await other.goto(env.screen(5008, env.url("/admin"), member="dkim"))
        await expect(pod_frame(other).locator("#connection")).to_contain_text("not one of")
        assert page.errors == [] and other.errors == []  # type: ignore[attr-defined]
        await page.close()
        await other.close()


async def test_lane_check_result_becomes_a_fact_and_a_new_preview(browser, database_factory):
    async with pod_env(database_factory) as env:
        page = await new_page(browser)
        similar_calls: list[str] = []
        page.on("request", lambda r: similar_calls.append(r.url) if "/similar" in r.url else None)
        await page.goto(env.pod_screen(TICKET))
        pod = pod_frame(page)
        await pod.locator("#composer-input").fill(
            "The front desk reports a weird beeping since Tuesday"
        )
        await pod.locator("#composer-input").press("Enter")
        checks = pod.locator("#checks .check.open")
        await expect(checks).to_have_count(3)
        await expect(checks.first).to_contain_text("exact error message")
        await expect(pod.locator("#similar")).to_contain_text("No similar resolved tickets")

        await pod.locator("#resolve-btn").click()
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        before = await pod.locator("#wrapup-text").input_value()
        await pod.locator("#wrapup-cancel").click()

        calls_before = len(similar_calls)
        result = checks.first.get_by_role("textbox")
        await result.fill("0x0000011b when printing")
        await result.press("Enter")
        done = pod.locator("#checks .check.done")
        await expect(done).to_contain_text("0x0000011b when printing")
        await expect(pod.locator("#facts .fact-text")).to_have_text(
            ["What is the exact error message the user sees: 0x0000011b when printing"]
        )
        await expect(pod.locator("#checks .check.open")).to_have_count(2)
        # The similar tickets follow the session's state.
        for _ in range(50):
            if len(similar_calls) > calls_before:
                break
            await page.wait_for_timeout(100)
        assert len(similar_calls) > calls_before

        await pod.locator("#resolve-btn").click()
        await expect(pod.locator("#wrapup-about")).not_to_contain_text("unchanged")
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        after = await pod.locator("#wrapup-text").input_value()
        assert "0x0000011b when printing" in after and "0x0000011b" not in before
        await pod.locator("#wrapup-cancel").click()
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_palette_resolves_with_the_keyboard_only(browser, database_factory):
    async with pod_env(database_factory) as env:
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = pod_frame(page)
        await expect(pod.locator("#main")).to_be_visible()
        await pod.locator("#composer-input").focus()
        await page.keyboard.press("Control+k")
        palette = pod.locator("#palette-dialog")
        await expect(palette).to_be_visible()
        await expect(pod.locator("#palette-input")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(palette).to_be_hidden()

        await page.keyboard.press("Meta+k")
        selected = pod.locator(".palette-item.selected")
        first = await selected.text_content()
        await page.keyboard.press("ArrowDown")
        await expect(selected).not_to_have_text(first)
        await page.keyboard.press("ArrowUp")
        await expect(selected).to_have_text(first)
        await page.keyboard.type("rslv")  # fuzzy: the letters in order
        await expect(selected).to_contain_text("Resolve")
        await page.keyboard.press("Enter")
        await expect(pod.locator("#wrapup-dialog")).to_be_visible()
        await expect(pod.locator("#wrapup-title")).to_have_text("Resolve: resolution note")
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        await page.keyboard.press("Escape")

        await page.keyboard.press("Control+k")
        await page.keyboard.type("script generator")
        await page.keyboard.press("Enter")
        await expect(pod.locator("#script-title")).to_have_text("Script Generator")
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_didnt_work_reason_reaches_the_escalation_package(browser, database_factory):
    async with pod_env(database_factory) as env:
        page = await new_page(browser)
        await page.goto(env.pod_screen(TICKET))
        pod = pod_frame(page)
        await pod.locator("#composer-input").fill("The print spooler is stuck, nothing prints")
        await pod.locator("#composer-input").press("Enter")
        card = pod.locator("#fix-card")
        await expect(card.locator("#fix-title")).to_contain_text("Print Spooler")
        outcome = card.locator(".outcome-buttons")
        for name in ("Worked", "Didn't work", "Partly", "Waiting to verify"):
            await expect(outcome.get_by_role("button", name=name, exact=True)).to_be_visible()
        await card.get_by_role("button", name="Mark applied").click()
        banner = pod.locator("#banner")
        await banner.get_by_role("button", name="Didn't work").click()
        await expect(pod.locator("#ask-label")).to_have_text("What happened? (optional)")
        await pod.locator("#ask-input").fill("The queue empties, then jams again within a minute")
        await pod.get_by_role("button", name="Mark as didn't work").click()
        await expect(card.locator(".chip")).to_have_text("Didn't work")
        await expect(card).to_contain_text("What happened: The queue empties, then jams again")

        await pod.locator("#escalate-btn").click()
        await expect(pod.locator("#wrapup-text")).to_be_enabled()
        package = await pod.locator("#wrapup-text").input_value()
        assert "didn't work: The queue empties, then jams again within a minute." in package
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_every_page_at_two_widths_with_no_serious_accessibility_violations(
    browser, database_factory
):
    async with pod_env(database_factory) as env:
        session_id, fix_id = await one_off_fix(env)
        admin_token = await env.token("admin")
        await env.call(
            "POST",
            f"/api/v1/ai-sessions/{session_id}/facts",
            admin_token,
            {"text": "The label printer's queue holds 14 jobs"},
        )
        page = await new_page(browser)
        csp: dict[str, str] = {}
        page.on(
            "response",
            lambda r: (
                csp.update({r.url: r.headers.get("content-security-policy", "")})
                if r.request.resource_type == "document"
                else None
            ),
        )
        pages = {
            "pod": env.url("/pod", id=TICKET, screen="ticket"),
            "library": env.url("/scripts"),
            "builder": env.url("/scripts/builder", from_session=session_id, fix=fix_id),
            "admin": env.url("/admin"),
        }
        await page.goto(pages["admin"])  # outside ConnectWise: the sign-in form, then the page
        await sign_in_with_token(page, admin_token)
        for name, url in pages.items():
            await page.goto(url)
            await expect(page.locator("#main")).to_be_visible()
            await page.wait_for_load_state("networkidle")
            for width in (1280, 400):
                await page.set_viewport_size({"width": width, "height": 900})
                violations = await axe_violations(page)
                assert violations == [], (name, width, violations)
            paths = await screenshots(page, name)
            assert [p.name for p in paths] == [f"{name}-1280.png", f"{name}-400.png"]
        for url, policy in csp.items():
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        assert len(csp) >= 4
        favicon = await page.request.get(env.url("/favicon.ico"))
        assert favicon.status == 200 and favicon.headers["content-type"] == "image/svg+xml"
        assert page.errors == []  # type: ignore[attr-defined]
        await page.close()
