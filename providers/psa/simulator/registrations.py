"""What integrations register in ConnectWise: callbacks, hosted API setups, and the keys that
sign callbacks.

`Registrations` is a mixin of `SimulatorState` (it uses `callbacks`, `hosted_setups`,
`signing_keys`, `signing_key_guids` and the site identity). Refusals are ConnectWise's:
a duplicate is a 400 `InvalidObject` whose `errors[]` entry carries `ObjectExists`, and a
missing required field is a 400 `InvalidObject` naming the field.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from providers.psa.simulator.records import (
    CALLBACK_KEY_PATH,
    HOSTED_SCREENS,
    SimError,
    invalid_object,
    now,
)

_CALLBACK_REQUIRED = ("url", "objectId", "type", "level")
_HOSTED_SETUP_REQUIRED = ("description", "screenId", "url", "type")


class Registrations:
    # --- callbacks ----------------------------------------------------------------------

    def add_callback(self, body: Any) -> dict[str, Any]:
        body = _require(body, "callback", _CALLBACK_REQUIRED)
        if not str(body["objectId"]).isdigit():
            raise invalid_object("callback", "InvalidValue", "objectId", "Must be a number.")
        key = _callback_key(body)
        if any(_callback_key(cb) == key for cb in self.callbacks.values()):
            raise invalid_object(
                "callback",
                "ObjectExists",
                "url",
                "A callback with this url, type, level and objectId already exists.",
            )
        api_member = self.member(self.api_member_id)
        callback = {
            "id": self.new_id(),
            "description": body.get("description") or "",
            "url": body["url"],
            "objectId": int(body["objectId"]),
            "type": body["type"],
            "level": body["level"],
            "memberId": api_member.id if api_member else None,
            "payloadVersion": body.get("payloadVersion"),
            "inactiveFlag": bool(body.get("inactiveFlag")),
            "isSoapCallbackFlag": False,
            "isSelfSuppressedFlag": False,
            "_info": {"lastUpdated": now(), "updatedBy": self.api_member_id},
        }
        self.callbacks[callback["id"]] = callback
        return callback

    def callback(self, callback_id: int) -> dict[str, Any]:
        if callback_id not in self.callbacks:
            raise SimError(404, "NotFound", f"Callback ID {callback_id} not found")
        return self.callbacks[callback_id]

    # --- hosted API setups ----------------------------------------------------------------

    def add_hosted_setup(self, body: Any) -> dict[str, Any]:
        body = _require(body, "connectWiseHostedSetup", _HOSTED_SETUP_REQUIRED)
        if not any(str(s["id"]) == str(body["screenId"]) for s in HOSTED_SCREENS):
            raise invalid_object(
                "connectWiseHostedSetup", "InvalidValue", "screenId", "Screen not found."
            )
        for existing in self.hosted_setups.values():
            if existing["screenId"] == body["screenId"] and existing["url"] == body["url"]:
                raise invalid_object(
                    "connectWiseHostedSetup",
                    "ObjectExists",
                    "url",
                    "This hosted API setup already exists.",
                )
        # ConnectWise answers the whole record, with defaults for what the body left out.
        # The clientId is kept as sent (none when absent), so a test sees whether the
        # integration named itself.
        setup = {
            "origin": None,
            "podHeight": None,
            "clientId": None,
            "disabledFlag": False,
            "locationsEnabledFlag": False,
            **copy.deepcopy(body),
            "id": self.new_id(),
            "createdBy": self.api_member_id,
            "dateCreated": now(),
            "_info": {"lastUpdated": now(), "updatedBy": self.api_member_id},
        }
        self.hosted_setups[setup["id"]] = setup
        return setup

    # --- callback signing keys ------------------------------------------------------------

    @property
    def current_key_id(self) -> int:
        return max(self.signing_keys)

    @property
    def signing_key(self) -> str:
        return self.signing_keys[self.current_key_id]

    def rotate_signing_key(self) -> str:
        """Start signing with a new key; the old ones stay fetchable at their key URLs."""
        self.signing_keys[self.current_key_id + 1] = secrets.token_urlsafe(32)
        return self.signing_key

    def key_guid(self, key_id: int) -> str:
        """The GUID in a key's URL (made on first use, so keys added directly work too)."""
        return self.signing_key_guids.setdefault(key_id, str(uuid.uuid4()))

    def key_id_for_guid(self, guid: str) -> int | None:
        wanted = guid.strip().lower()
        return next((k for k, g in self.signing_key_guids.items() if g.lower() == wanted), None)

    def key_url(self, key_id: int | None = None) -> str | None:
        """ConnectWise's key URL for callbacks: under the site's codebase, outside the API."""
        if not self.site_url:
            return None
        key_id = key_id or self.current_key_id
        query = urlencode({"companyName": self.company_id, "id": self.key_guid(key_id)})
        return f"{self.site_url}/{self.codebase}/{CALLBACK_KEY_PATH}?{query}"


def matching_callbacks(
    callbacks: Iterable[dict[str, Any]], ticket: dict[str, Any]
) -> list[dict[str, Any]]:
    """Active ticket callbacks whose level and object id cover this ticket."""
    object_for_level = {
        "owner": None,
        "board": ticket["board"]["id"],
        "status": ticket["status"]["id"],
        "ticket": ticket["id"],
        "company": (ticket.get("company") or {}).get("id"),
    }
    found = []
    for cb in callbacks:
        level = str(cb.get("level") or "").lower()
        if cb.get("inactiveFlag") or str(cb.get("type") or "").lower() != "ticket":
            continue
        if level not in object_for_level:
            continue
        if level == "owner" or object_for_level[level] == cb.get("objectId"):
            found.append(cb)
    return found


def _require(body: Any, resource: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """The body, or ConnectWise's refusal naming the first missing required field."""
    if not isinstance(body, dict):
        raise SimError(400, "InvalidObject", f"A {resource} object is required")
    for name in fields:
        if body.get(name) in (None, ""):
            raise invalid_object(resource, "NullValue", name, f"The {name} field is required.")
    return body


def _callback_key(body: dict[str, Any]) -> tuple[str, str, str, int]:
    return (
        str(body.get("url")),
        str(body.get("type")).lower(),
        str(body.get("level")).lower(),
        int(body.get("objectId") or 0),
    )
