"""`fixpilot connectwise doctor`: can Fixpilot work on this account's PSA?

Checks, in order: the site and company id (a Cloud site's versioned codebase beside an API
URL on the classic one is healthy), the credentials and clientId, the API member's access to
each endpoint Fixpilot uses, the callbacks (re-activated with `fix`), the pod on the ticket
screen, and the configured status ids. Each check is one line of a `Report`, so the CLI
prints them and an admin page can show them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from plugin.features.psa_setup.install import (
    callback_key,
    callback_url,
    describe_callback,
    error_text,
    find_callback,
    find_pod_screen,
)
from plugin.features.psa_setup.report import Report
from plugin.kernel.manifest import manifest
from plugin.kernel.preferences import check_status_targets
from plugin.kernel.psa import read_board_statuses
from plugin.kernel.tenancy import Account
from providers.psa import PSAAuthError, PSAError, PSANotFound, PSAProvider, PSASetup

# Every ConnectWise site serves the API under this codebase; a Cloud site's companyinfo
# names a versioned one (e.g. v2025_1) beside it, and API URLs commonly keep this one.
CLASSIC_CODEBASE = "v4_6_release"

# The endpoints Fixpilot reads or writes, each probed with a one-item GET (a write can't be
# probed without writing), and the manifest permission screen that grants it.
ACCESS_PROBES = (
    ("service/tickets", "Service Tickets"),
    ("service/tickets/{ticket_id}/notes", "Service Ticket - Notes"),
    ("service/boards", "Service Boards (Setup)"),
    ("system/callbacks", "Table Setup (Callbacks)"),
    ("system/connectwisehostedsetups", "Hosted API (Setup)"),
)


async def run_doctor(
    provider: PSAProvider,
    account: Account,
    public_url: str | None,
    fix: bool,
    report: Report,
    *,
    secret_configured: bool | None = None,
) -> Report:
    await _check_psa(provider, account, public_url, fix, report)
    if secret_configured is not None:
        check_instance_secret(secret_configured, report)
    return report


async def _check_psa(
    provider: PSAProvider, account: Account, public_url: str | None, fix: bool, report: Report
) -> Report:
    setup = provider.setup
    if setup is None:
        report.fail("PSA set-up", f"the {provider.slug} provider has no set-up checks")
        return report
    await _check_site(setup, report)
    if not await _check_credentials(setup, report):
        return report
    denied = await _check_access(setup, report)
    if "system/callbacks" not in denied:
        await _check_callbacks(setup, account, public_url, fix, report)
    if "system/connectwisehostedsetups" not in denied and manifest().get("pod"):
        await _check_pod(setup, manifest()["pod"], public_url, report)
    await _check_statuses(provider, account, report)
    return report


def check_instance_secret(configured: bool, report: Report) -> None:
    """The private keys are sealed with the instance secret: one generated and kept in
    the same database protects nothing against a copy of that database."""
    what = "Instance secret (seals the PSA private keys)"
    if configured:
        report.ok(what)
        return
    report.warn(
        what,
        "it is the one generated on first start and stored in the database beside the keys "
        "it seals; put a new one in a file, run `fixpilot secrets rotate --new-secret-file "
        "FILE`, then start with FIXPILOT_SECRET_KEY_FILE=FILE (or FIXPILOT_SECRET_KEY)",
    )


async def _check_site(setup: PSASetup, report: Report) -> None:
    what = "ConnectWise site and company id"
    try:
        info = await setup.company_info()
    except PSANotFound:
        report.fail(what, f"company id {setup.company_id!r} is not known to the site")
        return
    except PSAError as exc:
        report.fail(what, exc.message)
        return
    codebase = str(info.get("Codebase") or "").strip("/")
    api_codebase = urlsplit(setup.api_url).path.strip("/").split("/")[0]
    cloud = info.get("IsCloud") is True
    if codebase and api_codebase != codebase and not (cloud and api_codebase == CLASSIC_CODEBASE):
        report.fail(
            what, f"the site runs codebase {codebase!r} but the API URL uses {api_codebase!r}"
        )
        return
    where = f"Cloud, codebase {codebase}" if cloud else f"codebase {codebase or 'unknown'}"
    if api_codebase != codebase and codebase:
        where += f"; the API answers on {api_codebase}"
    report.ok(f"{what} ({where})")


async def _check_credentials(setup: PSASetup, report: Report) -> bool:
    what = "credentials and clientId"
    if not (setup.client_id or "").strip():
        report.fail(what, "no clientId is configured (FIXPILOT_CW_CLIENT_ID)")
        return False
    try:
        await setup.probe("service/boards")
    except PSAAuthError as exc:
        report.fail(what, f"{exc.status or 401} {exc.message}")
        return False
    except PSAError as exc:
        if exc.status not in (403, 404):  # authenticated, just not allowed there
            report.fail(what, error_text(exc))
            return False
    report.ok(what)
    return True


async def _check_access(setup: PSASetup, report: Report) -> set[str]:
    """One line per endpoint; returns the endpoints the API member can't use."""
    permissions = {p["screen"]: p for p in manifest().get("connectwise_permissions", [])}
    denied: set[str] = set()
    ticket_id: int | None = None
    for path, screen in ACCESS_PROBES:
        if "{ticket_id}" in path and ticket_id is None:
            continue  # no ticket to try it on
        try:
            data = await setup.probe(path.format(ticket_id=ticket_id))
        except PSAError as exc:
            denied.add(path)
            report.fail(f"access to {path}", error_text(exc) + _grant_hint(permissions, screen))
            continue
        if path == "service/tickets" and isinstance(data, list) and data:
            ticket_id = _int(data[0].get("id"))
        report.ok(f"access to {path}")
    return denied


def _grant_hint(permissions: dict[str, dict[str, Any]], screen: str) -> str:
    permission = permissions.get(screen)
    if permission is None:
        return ""
    access = ", ".join(permission.get("access", []))
    return f" (grant {permission['module']} › {screen}: {access})"


async def _check_callbacks(
    setup: PSASetup, account: Account, public_url: str | None, fix: bool, report: Report
) -> None:
    try:
        registered = await setup.list_callbacks()
    except PSAError as exc:
        report.fail("callbacks", error_text(exc))
        return
    for wanted in manifest().get("callbacks", []):
        found, url = _registered_callback(registered, wanted, account.slug, public_url)
        what = f"callback {describe_callback(wanted, url)}"
        if found is None:
            report.fail(what, "not registered; run `fixpilot connectwise install`")
        elif not found.get("inactiveFlag"):
            report.ok(f"{what} is active")
        elif not fix:
            report.fail(what, "inactive; run `fixpilot connectwise doctor --fix`")
        else:
            try:
                await setup.update_callback(int(found["id"]), inactive=False)
            except PSAError as exc:
                report.fail(what, f"inactive, and re-activating it failed: {error_text(exc)}")
            else:
                report.ok(f"{what} re-activated")


def _registered_callback(
    registered: list[dict[str, Any]], wanted: dict[str, Any], slug: str, public_url: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The registration of `wanted`, and its URL. Without the public URL, a registration
    for the path on any host will do."""
    if public_url:
        url = callback_url(public_url, wanted["path"], slug)
        return find_callback(registered, wanted, url), url
    path = wanted["path"].replace("{account}", quote(slug, safe=""))
    kind = callback_key({**wanted, "url": ""})[1:]
    found = next(
        (
            cb
            for cb in registered
            if str(cb.get("url") or "").endswith(path) and callback_key(cb)[1:] == kind
        ),
        None,
    )
    return found, str(found.get("url")) if found else f"…{path}"


async def _check_pod(
    setup: PSASetup, pod: dict[str, Any], public_url: str | None, report: Report
) -> None:
    """The pod is set up on the ticket screen (by URL, or by its path without the public
    URL)."""
    what = f"pod on the {pod.get('screen', 'ticket')} screen"
    try:
        screen = await find_pod_screen(setup, str(pod.get("screen") or "ticket"))
        setups = await setup.list_hosted_setups()
    except PSAError as exc:
        report.fail(what, error_text(exc))
        return
    path = pod["path"]
    url = public_url.rstrip("/") + path if public_url else None
    found = next(
        (
            s
            for s in setups
            if _int(s.get("screenId")) == _int(screen.get("id"))
            and (s.get("url") == url if url else str(s.get("url") or "").endswith(path))
        ),
        None,
    )
    what = f"pod on the {screen.get('name')} screen (screen id {screen.get('id')})"
    if found is None:
        report.fail(what, "not set up; run `fixpilot connectwise install`")
    elif found.get("disabledFlag"):
        report.fail(what, "disabled in ConnectWise's Manage Hosted API")
    else:
        report.ok(f"{what} is set up")


async def _check_statuses(provider: PSAProvider, account: Account, report: Report) -> None:
    targets = account.prefs.status_targets()
    if not targets:
        report.ok("status ids: none configured (resolve and escalate won't change status)")
        return
    try:
        statuses = await read_board_statuses(provider, targets)
    except PSAError as exc:
        report.fail("status ids", f"cannot list board statuses: {error_text(exc)}")
        return
    for check in check_status_targets(targets, statuses):
        target = check.target
        where = f"board {target.board_id}" if target.board_id is not None else "any board"
        what = f"{target.role} status {target.status_id} on {where}"
        if check.problem in ("no_status", "no_board"):
            report.fail(what, "no such status")
        elif check.problem == "inactive":
            report.fail(what, f"'{check.status.name}' is inactive")
        else:
            board = check.status.board_id if check.status.board_id is not None else target.board_id
            report.ok(
                f"{target.role} status {target.status_id} '{check.status.name}' on board {board}"
            )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
