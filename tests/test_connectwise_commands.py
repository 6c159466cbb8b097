"""`fixpilot connectwise install` and `doctor` against the ConnectWise simulator.

The commands run their own event loop (asyncio.run), so they run in a thread while the
simulator keeps serving on the test's loop."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from plugin.cli.connectwise import doctor, install
from plugin.features.accounts.service import ensure_default_account
from plugin.kernel.db import Database
from providers.psa.simulator import registrations, system_api
from providers.psa.simulator.records import HOSTED_SCREENS, SERVICE_TICKET_SCREEN_ID
from tests.callback_helpers import set_preferences

PUBLIC_URL = "https://fixpilot.example"
CALLBACK_URL = f"{PUBLIC_URL}/webhooks/connectwise/default?recordId="
POD_URL = f"{PUBLIC_URL}/pod?id=[cw_id]&screen=[cw_screen]"
POD = f"pod on the Service Ticket screen (screen id {SERVICE_TICKET_SCREEN_ID}) {POD_URL}"


async def run(command, settings, **kwargs) -> int:
    return await asyncio.to_thread(command, settings, account="default", **kwargs)


def lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    return (captured.out + captured.err).splitlines()


@pytest.fixture
def settings(cw_settings):
    # A configured instance secret: the doctor warns about a generated one (test_keys_at_rest).
    return cw_settings(public_url=PUBLIC_URL, secret_key=SecretStr("s" * 48))


async def test_install_registers_the_callback_and_pod_once(settings, cw_sim, capsys):
    assert await run(install, settings, dry_run=False) == 0
    first = lines(capsys)
    assert await run(install, settings, dry_run=False) == 0
    second = lines(capsys)

    (callback,) = cw_sim.callbacks.values()
    assert (callback["url"], callback["type"], callback["level"]) == (
        CALLBACK_URL,
        "Ticket",
        "Owner",
    )
    assert (callback["objectId"], callback["inactiveFlag"]) == (1, False)
    (pod,) = cw_sim.hosted_setups.values()
    assert (pod["url"], pod["origin"], pod["type"]) == (POD_URL, PUBLIC_URL, "Pod")
    assert pod["podHeight"] == 640
    # The screen was looked up (the simulator's Service Ticket screen is not id 1), and the
    # pod names the integration it belongs to.
    assert (pod["screenId"], pod["clientId"]) == (SERVICE_TICKET_SCREEN_ID, cw_sim.client_id)
    assert ("GET", "system/connectWiseHostedScreens") in cw_sim.requests
    assert first == [
        f"created callback Ticket/Owner {CALLBACK_URL} (id {callback['id']})",
        f"created {POD} for clientId {cw_sim.client_id} (id {pod['id']})",
    ]
    assert second == [
        f"callback Ticket/Owner {CALLBACK_URL} already registered (id {callback['id']})",
        f"{POD} already set up (id {pod['id']})",
    ]


async def test_install_dry_run_changes_nothing(settings, cw_sim, capsys):
    assert await run(install, settings, dry_run=True) == 0

    assert lines(capsys) == [
        f"would create callback Ticket/Owner {CALLBACK_URL}",
        f"would create {POD} for clientId {cw_sim.client_id}",
    ]
    assert cw_sim.callbacks == {} and cw_sim.hosted_setups == {}
    assert not [r for r in cw_sim.requests if r[0] != "GET"]


@pytest.fixture
def screens(monkeypatch):
    """Replace the simulated site's hosted screens."""

    def use(new_screens: tuple[dict, ...]) -> None:
        for module in (system_api, registrations):
            monkeypatch.setattr(module, "HOSTED_SCREENS", new_screens)

    return use


async def test_install_uses_the_sites_own_screen_id(settings, cw_sim, screens, capsys):
    renumbered = tuple(
        {**screen, "id": 7} if screen["id"] == SERVICE_TICKET_SCREEN_ID else screen
        for screen in HOSTED_SCREENS
    )
    screens(renumbered)

    assert await run(install, settings, dry_run=False) == 0

    (pod,) = cw_sim.hosted_setups.values()
    assert pod["screenId"] == 7
    assert f"(screen id 7) {POD_URL} for clientId" in lines(capsys)[-1]


async def test_install_fails_without_a_ticket_screen(settings, cw_sim, screens, capsys):
    screens(tuple(s for s in HOSTED_SCREENS if s["id"] != SERVICE_TICKET_SCREEN_ID))

    assert await run(install, settings, dry_run=False) == 1

    failure = lines(capsys)[-1]
    assert failure.startswith("FAIL pod: no hosted screen for the ticket pod")
    assert "Company" in failure and "Project Ticket" in failure  # what the site lists
    assert cw_sim.hosted_setups == {}


async def test_install_points_out_a_pod_on_the_wrong_screen(settings, cw_sim, capsys):
    wrong = cw_sim.add_hosted_setup(
        {"description": "Fixpilot", "screenId": 1, "url": POD_URL, "type": "Pod"}
    )

    assert await run(install, settings, dry_run=False) == 0

    report = lines(capsys)
    assert (
        f"note: the pod is also set up on screen id 1 (id {wrong['id']}); remove it in "
        "ConnectWise's Manage Hosted API" in report
    )
    screen_ids = sorted(s["screenId"] for s in cw_sim.hosted_setups.values())
    assert screen_ids == [1, SERVICE_TICKET_SCREEN_ID]


async def test_install_needs_the_public_url(cw_settings, cw_sim, capsys):
    assert await run(install, cw_settings(public_url=None), dry_run=False) == 2

    (line,) = lines(capsys)
    assert "FIXPILOT_PUBLIC_URL" in line
    assert cw_sim.requests == []


async def test_install_reports_a_refusal(settings, cw_sim, capsys):
    cw_sim.denied_paths = {"POST system/callbacks"}

    assert await run(install, settings, dry_run=False) == 1

    assert any(line.startswith("FAIL") and "403" in line for line in lines(capsys))


async def test_doctor_passes_after_install(settings, cw_sim, capsys):
    await run(install, settings, dry_run=False)
    capsys.readouterr()

    assert await run(doctor, settings, fix=False) == 0

    report = lines(capsys)
    assert all(line.startswith("ok   ") for line in report), report
    assert "ok   credentials and clientId" in report
    assert f"ok   callback Ticket/Owner {CALLBACK_URL} is active" in report
    for path in ("service/tickets", "service/tickets/{ticket_id}/notes", "system/callbacks"):
        assert f"ok   access to {path}" in report
    assert report[0] == "ok   ConnectWise site and company id (codebase v4_6_release)"
    assert (
        f"ok   pod on the Service Ticket screen (screen id {SERVICE_TICKET_SCREEN_ID}) is set up"
        in report
    )


async def test_doctor_accepts_a_cloud_site_on_the_classic_api_codebase(settings, cw_sim, capsys):
    cw_sim.cloud = True  # companyinfo names v2025_1; the API URL keeps v4_6_release
    await run(install, settings, dry_run=False)
    capsys.readouterr()

    assert await run(doctor, settings, fix=False) == 0

    report = lines(capsys)
    assert report[0] == (
        "ok   ConnectWise site and company id "
        "(Cloud, codebase v2025_1; the API answers on v4_6_release)"
    )


async def test_doctor_refuses_an_api_url_on_another_codebase(cw_settings, cw_sim, capsys):
    settings = cw_settings(
        public_url=PUBLIC_URL, cw_url=f"{cw_sim.site_url}/v2025_1/apis/3.0/"
    )  # a classic site: companyinfo names v4_6_release, and v2025_1 does not exist there

    assert await run(doctor, settings, fix=False) == 1

    assert lines(capsys)[0] == (
        "FAIL ConnectWise site and company id: the site runs codebase 'v4_6_release' "
        "but the API URL uses 'v2025_1'"
    )


async def test_doctor_reports_a_missing_pod(settings, cw_sim, capsys):
    assert await run(doctor, settings, fix=False) == 1

    assert (
        f"FAIL pod on the Service Ticket screen (screen id {SERVICE_TICKET_SCREEN_ID}): "
        "not set up; run `fixpilot connectwise install`" in lines(capsys)
    )


async def test_doctor_reports_a_missing_permission_and_an_inactive_callback(
    settings, cw_sim, capsys
):
    await run(install, settings, dry_run=False)
    (callback,) = cw_sim.callbacks.values()
    callback["inactiveFlag"] = True  # ConnectWise disables a callback after days of failures
    cw_sim.denied_paths = {"system/connectwisehostedsetups"}
    capsys.readouterr()

    assert await run(doctor, settings, fix=False) == 1
    report = lines(capsys)
    denied = next(line for line in report if "system/connectwisehostedsetups" in line)
    assert denied.startswith("FAIL access to system/connectwisehostedsetups: 403")
    assert "Hosted API (Setup)" in denied
    assert (
        f"FAIL callback Ticket/Owner {CALLBACK_URL}: inactive; "
        "run `fixpilot connectwise doctor --fix`" in report
    )
    assert callback["inactiveFlag"] is True  # without --fix nothing changes

    assert await run(doctor, settings, fix=True) == 1  # the permission still fails
    assert f"ok   callback Ticket/Owner {CALLBACK_URL} re-activated" in lines(capsys)
    assert callback["inactiveFlag"] is False

    cw_sim.denied_paths = set()
    assert await run(doctor, settings, fix=False) == 0


async def test_doctor_reports_a_missing_callback(settings, cw_sim, capsys):
    assert await run(doctor, settings, fix=False) == 1

    assert (
        f"FAIL callback Ticket/Owner {CALLBACK_URL}: not registered; "
        "run `fixpilot connectwise install`" in lines(capsys)
    )


async def test_doctor_stops_at_bad_credentials(cw_settings, cw_sim, capsys):
    settings = cw_settings(public_url=PUBLIC_URL, cw_private_key=SecretStr("wrong-key"))

    assert await run(doctor, settings, fix=False) == 1

    report = [line for line in lines(capsys) if not line.startswith("WARN Instance secret")]
    assert report[-1].startswith("FAIL credentials and clientId: 401")
    assert not any("access to" in line for line in report)


async def test_doctor_checks_configured_status_ids(settings, cw_sim, capsys):
    await run(install, settings, dry_run=False)
    db = Database(settings.database_url)
    try:
        await ensure_default_account(db, settings)
        await set_preferences(
            db,
            {
                "cw_resolved_status_id": 4,
                "cw_escalated_status_id": 15,
                "board_overrides": {"2": {"resolved": 99, "escalated": 17}},
            },
        )
    finally:
        await db.dispose()
    capsys.readouterr()

    assert await run(doctor, settings, fix=False) == 1

    report = lines(capsys)
    assert "ok   resolved status 4 'Resolved' on board 1" in report
    assert "ok   escalated status 15 'Escalated' on board 2" in report
    assert "FAIL resolved status 99 on board 2: no such status" in report
    assert "FAIL escalated status 17 on board 2: 'Scheduled (legacy)' is inactive" in report
