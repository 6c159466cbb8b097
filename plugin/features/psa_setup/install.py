"""`fixpilot connectwise install`: register what manifest.json describes (the ticket
callbacks and the hosted pod) on the account's PSA, idempotently. One line per action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from plugin.kernel.manifest import manifest
from providers.psa import PSAError, PSASetup

# The screen a manifest pod names, as ConnectWise lists it in `system/connectWiseHostedScreens`
# (its `name`, or its `screenId`). The numeric id differs between sites: it is looked up.
POD_SCREENS = {"ticket": ("Service Ticket", "ServiceTicket")}

Say = Callable[[str], None]


class SetupError(Exception):
    """A reason the command can't run at all; printed as one line."""


def callback_url(public_url: str, path: str, account_slug: str) -> str:
    return public_url.rstrip("/") + path.replace("{account}", quote(account_slug, safe=""))


def callback_key(callback: dict[str, Any]) -> tuple[str, str, str, int]:
    return (
        str(callback.get("url") or ""),
        str(callback.get("type") or "").lower(),
        str(callback.get("level") or "").lower(),
        int(callback.get("objectId") or callback.get("object_id") or 1),
    )


def find_callback(
    existing: list[dict[str, Any]], wanted: dict[str, Any], url: str
) -> dict[str, Any] | None:
    key = callback_key({**wanted, "url": url})
    return next((cb for cb in existing if callback_key(cb) == key), None)


def describe_callback(wanted: dict[str, Any], url: str) -> str:
    return f"{wanted['type']}/{wanted['level']} {url}"


def error_text(exc: PSAError) -> str:
    return f"{exc.status} {exc.message}" if exc.status else exc.message


async def install_registrations(
    setup: PSASetup, account_slug: str, public_url: str, dry_run: bool, say: Say
) -> bool:
    """Register the manifest's callbacks and pod; False when the PSA refused something."""
    spec = manifest()
    try:
        existing = await setup.list_callbacks()
        for wanted in spec.get("callbacks", []):
            url = callback_url(public_url, wanted["path"], account_slug)
            await _install_callback(setup, existing, wanted, url, dry_run, say)
        if spec.get("pod"):
            await _install_pod(setup, spec["pod"], public_url, dry_run, say)
    except PodScreenNotFound as exc:
        say(f"FAIL pod: {exc.message}")
        return False
    except PSAError as exc:
        say(f"FAIL ConnectWise refused: {error_text(exc)}")
        return False
    return True


async def _install_callback(
    setup: PSASetup,
    existing: list[dict[str, Any]],
    wanted: dict[str, Any],
    url: str,
    dry_run: bool,
    say: Say,
) -> None:
    what = describe_callback(wanted, url)
    found = find_callback(existing, wanted, url)
    if found is not None:
        hint = (
            " but INACTIVE: run `fixpilot connectwise doctor --fix`"
            if found.get("inactiveFlag")
            else ""
        )
        say(f"callback {what} already registered (id {found.get('id')}){hint}")
    elif dry_run:
        say(f"would create callback {what}")
    else:
        # create_callback treats ConnectWise's ObjectExists as success (a registration made
        # since we listed them), returning the existing one.
        created = await setup.create_callback(
            url,
            wanted["type"],
            wanted["level"],
            int(wanted.get("object_id", 1)),
            wanted.get("description") or "Fixpilot",
        )
        say(f"created callback {what} (id {created.get('id')})")


class PodScreenNotFound(PSAError):
    """The PSA lists no screen the manifest's pod can go on."""


async def find_pod_screen(setup: PSASetup, screen: str) -> dict[str, Any]:
    """The PSA's hosted screen for the manifest's pod `screen` (e.g. "ticket")."""
    names = {n.lower() for n in POD_SCREENS.get(screen.lower(), (screen,))}
    screens = await setup.list_hosted_screens()
    found = next(
        (
            s
            for s in screens
            if str(s.get("name") or "").lower() in names
            or str(s.get("screenId") or "").lower() in names
        ),
        None,
    )
    if found is None or _int(found.get("id")) is None:
        listed = ", ".join(sorted(str(s.get("name")) for s in screens)) or "none"
        raise PodScreenNotFound(
            f"no hosted screen for the {screen} pod (wanted {' or '.join(sorted(names))}; "
            f"the site lists: {listed})"
        )
    return found


async def _install_pod(
    setup: PSASetup, pod: dict[str, Any], public_url: str, dry_run: bool, say: Say
) -> None:
    url = public_url.rstrip("/") + pod["path"]
    screen = await find_pod_screen(setup, str(pod.get("screen") or "ticket"))
    screen_id = int(screen["id"])
    what = f"pod on the {screen.get('name')} screen (screen id {screen_id}) {url}"
    existing = [s for s in await setup.list_hosted_setups() if s.get("url") == url]
    found = next((s for s in existing if _int(s.get("screenId")) == screen_id), None)
    for elsewhere in (s for s in existing if s is not found):
        say(
            f"note: the pod is also set up on screen id {elsewhere.get('screenId')} "
            f"(id {elsewhere.get('id')}); remove it in ConnectWise's Manage Hosted API"
        )
    if found is not None:
        say(f"{what} already set up (id {found.get('id')})")
    elif dry_run:
        say(f"would create {what} for clientId {setup.client_id or '(none configured)'}")
    else:
        created = await setup.create_hosted_setup(
            description=pod.get("description") or "Fixpilot",
            screen_id=screen_id,
            url=url,
            origin=_origin(public_url),
            pod_height=pod.get("height"),
        )
        say(f"created {what} for clientId {setup.client_id} (id {created.get('id')})")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
