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
from tests.callback_helpers import set_preferences

PUBLIC_URL = "https://fixpilot.example"
CALLBACK_URL = f"{PUBLIC_URL}/webhooks/connectwise/default?recordId="
POD_URL = f"{PUBLIC_URL}/pod?id=[cw_id]&screen=[cw_screen]"


async def run(command, settings, **kwargs) -> int:
    return await asyncio.to_thread(command, settings, account="default", **kwargs)


def lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    return (captured.out + captured.err).splitlines()


@pytest.fixture
def settings(cw_settings):
    return cw_settings(public_url=PUBLIC_URL)


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
    assert first == [
        f"created callback Ticket/Owner {CALLBACK_URL} (id {callback['id']})",
        f"created pod on the ticket screen {POD_URL} (id {pod['id']})",
    ]
    assert second == [
        f"callback Ticket/Owner {CALLBACK_URL} already registered (id {callback['id']})",
        f"pod on the ticket screen {POD_URL} already set up (id {pod['id']})",
    ]


async def test_install_dry_run_changes_nothing(settings, cw_sim, capsys):
    assert await run(install, settings, dry_run=True) == 0

    assert lines(capsys) == [
        f"would create callback Ticket/Owner {CALLBACK_URL}",
        f"would create pod on the ticket screen {POD_URL}",
    ]
    assert cw_sim.callbacks == {} and cw_sim.hosted_setups == {}
    assert not [r for r in cw_sim.requests if r[0] != "GET"]


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

    report = lines(capsys)
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
