"""`fixpilot connectwise install`: register what manifest.json describes (the ticket
callbacks and the hosted pod) on the account's PSA, idempotently. One line per action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from plugin.kernel.manifest import manifest
from providers.psa import PSAError, PSASetup

# ConnectWise identifies Hosted API screens by number. *Unconfirmed*: 1 for the Service
# Ticket screen; a manifest pod may carry its own "screen_id" to override this.
POD_SCREEN_IDS = {"ticket": 1}

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


def _pod_screen_id(pod: dict[str, Any]) -> int:
    if pod.get("screen_id") is not None:
        return int(pod["screen_id"])
    screen = str(pod.get("screen") or "ticket").lower()
    if screen not in POD_SCREEN_IDS:
        raise SetupError(f"manifest pod screen {screen!r} has no known ConnectWise screen id")
    return POD_SCREEN_IDS[screen]


async def _install_pod(
    setup: PSASetup, pod: dict[str, Any], public_url: str, dry_run: bool, say: Say
) -> None:
    url = public_url.rstrip("/") + pod["path"]
    screen_id = _pod_screen_id(pod)
    what = f"pod on the {pod.get('screen', 'ticket')} screen {url}"
    existing = await setup.list_hosted_setups()
    found = next(
        (s for s in existing if s.get("url") == url and _int(s.get("screenId")) == screen_id),
        None,
    )
    if found is not None:
        say(f"{what} already set up (id {found.get('id')})")
    elif dry_run:
        say(f"would create {what}")
    else:
        created = await setup.create_hosted_setup(
            description=pod.get("description") or "Fixpilot",
            screen_id=screen_id,
            url=url,
            origin=_origin(public_url),
            pod_height=pod.get("height"),
        )
        say(f"created {what} (id {created.get('id')})")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
