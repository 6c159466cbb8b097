"""`fixpilot connectwise install` and `fixpilot connectwise doctor`.

install registers what manifest.json describes (the ticket callbacks and the hosted pod) on
the account's ConnectWise, idempotently. doctor checks that Fixpilot can work there: the site
and company id, the credentials and clientId, the API member's access to each endpoint
Fixpilot uses, the callbacks (re-activated with --fix) and the configured status ids. Both
print one line per action or check and return the process exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from plugin.accounts.models import Account
from plugin.accounts.service import ensure_default_account, get_account_by_slug
from plugin.db import Database
from plugin.manifest import manifest
from plugin.psa import PSAProviders
from plugin.settings import Settings
from providers.psa.base import PSAAuthError, PSAError, PSANotFound
from providers.psa.connectwise import ConnectWiseProvider
from providers.psa.connectwise.client import ConnectWiseClient

# ConnectWise identifies Hosted API screens by number. *Unconfirmed*: 1 for the Service
# Ticket screen; a manifest pod may carry its own "screen_id" to override this.
POD_SCREEN_IDS = {"ticket": 1}

# The endpoints Fixpilot reads or writes, each probed with a one-item GET (a write can't be
# probed without writing), and the manifest permission screen that grants it.
ACCESS_PROBES = (
    ("service/tickets", "Service Tickets"),
    ("service/tickets/{ticket_id}/notes", "Service Ticket - Notes"),
    ("service/boards", "Service Boards (Setup)"),
    ("system/callbacks", "Table Setup (Callbacks)"),
    ("system/connectwisehostedsetups", "Hosted API (Setup)"),
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class SetupError(Exception):
    """A reason the command can't run at all; printed as one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def install(settings: Settings, *, account: str, dry_run: bool) -> int:
    if not settings.public_url:
        print(
            "fixpilot: FIXPILOT_PUBLIC_URL is not set; set it to the https URL ConnectWise "
            "reaches Fixpilot at (e.g. https://fixpilot.example.com)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return _run(
        settings,
        account,
        lambda provider, acct: install_registrations(provider, acct, settings, dry_run),
    )


def doctor(settings: Settings, *, account: str, fix: bool) -> int:
    return _run(settings, account, lambda provider, acct: _doctor(provider, acct, settings, fix))


# --- plumbing -------------------------------------------------------------------------------

Step = Callable[[ConnectWiseProvider, Account], Awaitable[int]]


def _run(settings: Settings, slug: str, step: Step) -> int:
    from plugin.__main__ import run_async

    async def go(db: Database) -> int:
        account = await _load_account(db, settings, slug)
        providers = PSAProviders(settings)
        try:
            provider = providers.for_account(account)
            if not isinstance(provider, ConnectWiseProvider):
                raise SetupError(f"account {slug!r} has no ConnectWise connection")
            return await step(provider, account)
        finally:
            await providers.aclose()

    try:
        return run_async(settings, go)
    except SetupError as exc:
        print(f"fixpilot: {exc}", file=sys.stderr)
        return exc.exit_code


async def _load_account(db: Database, settings: Settings, slug: str) -> Account:
    await ensure_default_account(db, settings)
    async with db.read() as session:
        account = await get_account_by_slug(session, slug)
    if account is None:
        raise SetupError(f"no account {slug!r}; see `fixpilot accounts list`")
    return account


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def callback_url(public_url: str, path: str, account_slug: str) -> str:
    return public_url.rstrip("/") + path.replace("{account}", quote(account_slug, safe=""))


def _callback_key(callback: dict[str, Any]) -> tuple[str, str, str, int]:
    return (
        str(callback.get("url") or ""),
        str(callback.get("type") or "").lower(),
        str(callback.get("level") or "").lower(),
        int(callback.get("objectId") or callback.get("object_id") or 1),
    )


def _pod_screen_id(pod: dict[str, Any]) -> int:
    if pod.get("screen_id") is not None:
        return int(pod["screen_id"])
    screen = str(pod.get("screen") or "ticket").lower()
    if screen not in POD_SCREEN_IDS:
        raise SetupError(f"manifest pod screen {screen!r} has no known ConnectWise screen id")
    return POD_SCREEN_IDS[screen]


# --- install --------------------------------------------------------------------------------


async def install_registrations(
    provider: ConnectWiseProvider, account: Account, settings: Settings, dry_run: bool
) -> int:
    spec = manifest()
    public_url = str(settings.public_url)
    try:
        existing = await provider.list_callbacks()
        for wanted in spec.get("callbacks", []):
            url = callback_url(public_url, wanted["path"], account.slug)
            await _install_callback(provider, existing, wanted, url, dry_run)
        if spec.get("pod"):
            await _install_pod(provider, spec["pod"], public_url, dry_run)
    except PSAError as exc:
        print(f"FAIL ConnectWise refused: {_error_text(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _find_callback(
    existing: list[dict[str, Any]], wanted: dict[str, Any], url: str
) -> dict[str, Any] | None:
    key = _callback_key({**wanted, "url": url})
    return next((cb for cb in existing if _callback_key(cb) == key), None)


def _describe_callback(wanted: dict[str, Any], url: str) -> str:
    return f"{wanted['type']}/{wanted['level']} {url}"


async def _install_callback(
    provider: ConnectWiseProvider,
    existing: list[dict[str, Any]],
    wanted: dict[str, Any],
    url: str,
    dry_run: bool,
) -> None:
    what = _describe_callback(wanted, url)
    found = _find_callback(existing, wanted, url)
    if found is not None:
        hint = (
            " but INACTIVE: run `fixpilot connectwise doctor --fix`"
            if found.get("inactiveFlag")
            else ""
        )
        print(f"callback {what} already registered (id {found.get('id')}){hint}")
    elif dry_run:
        print(f"would create callback {what}")
    else:
        # create_callback treats ConnectWise's ObjectExists as success (a registration made
        # since we listed them), returning the existing one.
        created = await provider.create_callback(
            url,
            wanted["type"],
            wanted["level"],
            int(wanted.get("object_id", 1)),
            wanted.get("description") or "Fixpilot",
        )
        print(f"created callback {what} (id {created.get('id')})")


async def _install_pod(
    provider: ConnectWiseProvider, pod: dict[str, Any], public_url: str, dry_run: bool
) -> None:
    url = public_url.rstrip("/") + pod["path"]
    screen_id = _pod_screen_id(pod)
    what = f"pod on the {pod.get('screen', 'ticket')} screen {url}"
    existing = await provider.list_hosted_setups()
    found = next(
        (s for s in existing if s.get("url") == url and _int(s.get("screenId")) == screen_id),
        None,
    )
    if found is not None:
        print(f"{what} already set up (id {found.get('id')})")
    elif dry_run:
        print(f"would create {what}")
    else:
        created = await provider.create_hosted_setup(
            description=pod.get("description") or "Fixpilot",
            screen_id=screen_id,
            url=url,
            origin=_origin(public_url),
            pod_height=pod.get("height"),
        )
        print(f"created {what} (id {created.get('id')})")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- doctor ---------------------------------------------------------------------------------


@dataclass
class Report:
    failures: int = 0

    def ok(self, what: str) -> None:
        print(f"ok   {what}", flush=True)

    def fail(self, what: str, why: str) -> None:
        self.failures += 1
        print(f"FAIL {what}: {why}", flush=True)


async def _doctor(
    provider: ConnectWiseProvider, account: Account, settings: Settings, fix: bool
) -> int:
    report = Report()
    client = ConnectWiseClient(provider.config)
    try:
        await _check_site(provider, report)
        if not await _check_credentials(client, account, report):
            return EXIT_FAILED
        denied = await _check_access(client, report)
        if "system/callbacks" not in denied:
            await _check_callbacks(provider, account, settings, fix, report)
        await _check_statuses(provider, account, report)
    finally:
        await client.aclose()
    return EXIT_FAILED if report.failures else EXIT_OK


async def _check_site(provider: ConnectWiseProvider, report: Report) -> None:
    what = "ConnectWise site and company id"
    try:
        info = await provider.company_info()
    except PSANotFound:
        report.fail(what, f"company id {provider.config.company_id!r} is not known to the site")
        return
    except PSAError as exc:
        report.fail(what, exc.message)
        return
    codebase = str(info.get("Codebase") or "").strip("/")
    api_path = urlsplit(provider.config.api_url).path
    if codebase and f"/{codebase}/" not in api_path:
        report.fail(what, f"the site runs codebase {codebase!r} but the API URL is {api_path!r}")
        return
    report.ok(f"{what} (codebase {codebase or 'unknown'})")


async def _check_credentials(client: ConnectWiseClient, account: Account, report: Report) -> bool:
    what = "credentials and clientId"
    if not (account.cw_client_id or "").strip():
        report.fail(what, "no clientId is configured (FIXPILOT_CW_CLIENT_ID)")
        return False
    try:
        await client.request("GET", "service/boards", params={"pageSize": 1})
    except PSAAuthError as exc:
        report.fail(what, f"{exc.status or 401} {exc.message}")
        return False
    except PSAError as exc:
        if exc.status not in (403, 404):  # authenticated, just not allowed there
            report.fail(what, _error_text(exc))
            return False
    report.ok(what)
    return True


async def _check_access(client: ConnectWiseClient, report: Report) -> set[str]:
    """One line per endpoint; returns the endpoints the API member can't use."""
    permissions = {p["screen"]: p for p in manifest().get("connectwise_permissions", [])}
    denied: set[str] = set()
    ticket_id: int | None = None
    for path, screen in ACCESS_PROBES:
        if "{ticket_id}" in path:
            if ticket_id is None:
                continue  # no ticket to try it on
            concrete = path.format(ticket_id=ticket_id)
        else:
            concrete = path
        try:
            response = await client.request("GET", concrete, params={"pageSize": 1})
        except PSAError as exc:
            denied.add(path)
            report.fail(f"access to {path}", _error_text(exc) + _grant_hint(permissions, screen))
            continue
        if path == "service/tickets" and isinstance(response.data, list) and response.data:
            ticket_id = _int(response.data[0].get("id"))
        report.ok(f"access to {path}")
    return denied


def _grant_hint(permissions: dict[str, dict[str, Any]], screen: str) -> str:
    permission = permissions.get(screen)
    if permission is None:
        return ""
    access = ", ".join(permission.get("access", []))
    return f" (grant {permission['module']} › {screen}: {access})"


async def _check_callbacks(
    provider: ConnectWiseProvider,
    account: Account,
    settings: Settings,
    fix: bool,
    report: Report,
) -> None:
    try:
        registered = await provider.list_callbacks()
    except PSAError as exc:
        report.fail("callbacks", _error_text(exc))
        return
    for wanted in manifest().get("callbacks", []):
        path = wanted["path"].replace("{account}", quote(account.slug, safe=""))
        if settings.public_url:
            url = callback_url(str(settings.public_url), wanted["path"], account.slug)
            found = _find_callback(registered, wanted, url)
        else:  # without the public URL, any host registered for this path will do
            found = next(
                (
                    cb
                    for cb in registered
                    if str(cb.get("url") or "").endswith(path)
                    and _callback_key(cb)[1:] == _callback_key({**wanted, "url": ""})[1:]
                ),
                None,
            )
            url = str(found.get("url")) if found else f"…{path}"
        what = f"callback {_describe_callback(wanted, url)}"
        if found is None:
            report.fail(what, "not registered; run `fixpilot connectwise install`")
        elif not found.get("inactiveFlag"):
            report.ok(f"{what} is active")
        elif not fix:
            report.fail(what, "inactive; run `fixpilot connectwise doctor --fix`")
        else:
            try:
                await provider.update_callback(int(found["id"]), inactive=False)
            except PSAError as exc:
                report.fail(what, f"inactive, and re-activating it failed: {_error_text(exc)}")
            else:
                report.ok(f"{what} re-activated")


async def _check_statuses(provider: ConnectWiseProvider, account: Account, report: Report) -> None:
    prefs = account.preferences or {}
    wanted: list[tuple[str, int, int | None]] = []  # (role, status id, board id or any)
    for role in ("resolved", "escalated"):
        status_id = prefs.get(f"cw_{role}_status_id")
        if status_id:
            wanted.append((role, int(status_id), None))
    for board_id, override in (prefs.get("board_overrides") or {}).items():
        for role in ("resolved", "escalated"):
            if (override or {}).get(role):
                wanted.append((role, int(override[role]), int(board_id)))
    if not wanted:
        report.ok("status ids: none configured (resolve and escalate won't change status)")
        return
    try:
        board_ids = {b for _, _, b in wanted if b is not None}
        if any(b is None for _, _, b in wanted):
            board_ids |= {int(b["id"]) for b in await provider.list_boards()}
        statuses = {b: await provider.list_board_statuses(b) for b in sorted(board_ids)}
    except PSAError as exc:
        report.fail("status ids", f"cannot list board statuses: {_error_text(exc)}")
        return
    for role, status_id, board_id in wanted:
        where = f"board {board_id}" if board_id is not None else "any board"
        what = f"{role} status {status_id} on {where}"
        boards = [board_id] if board_id is not None else sorted(statuses)
        match = next(
            ((b, s) for b in boards for s in statuses.get(b, []) if s.id == status_id), None
        )
        if match is None:
            report.fail(what, "no such status")
        elif match[1].inactive:
            report.fail(what, f"'{match[1].name}' is inactive")
        else:
            report.ok(f"{role} status {status_id} '{match[1].name}' on board {match[0]}")


def _error_text(exc: PSAError) -> str:
    return f"{exc.status} {exc.message}" if exc.status else exc.message
