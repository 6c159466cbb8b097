"""Account settings (preferences) over HTTP."""

from __future__ import annotations

import copy
from typing import Any

import json_merge_patch
from pydantic import BaseModel, ConfigDict, Field

from plugin.kernel.errors import Conflict, Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.manifest import preference_errors
from plugin.kernel.preferences import (
    AccountPreferences,
    StatusCheck,
    StatusTarget,
    check_status_targets,
)
from plugin.kernel.psa import has_psa, psa_label, read_board_statuses
from plugin.kernel.psa_errors import psa_api_error
from plugin.kernel.tenancy import Account, get_account
from providers.psa import PSAError

routes = RouteTable("settings")


# A concurrent change of the status ids between checking a patch's result against the PSA
# and writing it makes the patch start again, this many times at most.
PATCH_ATTEMPTS = 5


class SettingsOut(BaseModel):
    account: str
    preferences: dict[str, Any]


class SettingsIn(BaseModel):
    preferences: dict[str, Any] = Field(
        description="The whole preferences object, replacing the stored one: a key left out "
        "is removed (validated by manifest.json's settings_schema)"
    )


class SettingsPatch(BaseModel):
    """A JSON merge patch (RFC 7396) of `{"preferences": {...}}`."""

    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, Any] | None = Field(
        default_factory=dict,
        description="Merged into the stored preferences: a key set to null is removed, an "
        "object is merged key by key, anything else replaces the value; null removes them all",
    )


@routes.get(
    "/api/v1/settings",
    summary="The account's preferences (engineers may read them; admins change them)",
    response=SettingsOut,
)
async def get_settings(req: Req) -> SettingsOut:
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    return SettingsOut(account=account.slug, preferences=account.preferences or {})


@routes.put(
    "/api/v1/settings",
    summary="Replace the account's preferences: every key not sent is removed (admin)",
    auth="admin",
    body=SettingsIn,
    response=SettingsOut,
    errors=(502, 503),
)
async def put_settings(req: Req[SettingsIn, Any]) -> SettingsOut:
    preferences = req.body.preferences
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    await _validate(req, account, preferences)
    async with req.database.write() as tx:
        account = await get_account(tx, req.account_id)
        account.preferences = preferences
    return SettingsOut(account=account.slug, preferences=preferences)


@routes.patch(
    "/api/v1/settings",
    summary="Change some of the account's preferences with a JSON merge patch (admin)",
    auth="admin",
    body=SettingsPatch,
    response=SettingsOut,
    errors=(409, 502, 503),
)
async def patch_settings(req: Req[SettingsPatch, Any]) -> SettingsOut:
    for _ in range(PATCH_ATTEMPTS):
        async with req.database.read() as db:
            account = await get_account(db, req.account_id)
        checked = _merged(account.preferences, req.body.preferences)
        await _validate(req, account, checked)  # the PSA is asked outside the transaction
        async with req.database.write() as tx:
            # Locked (PostgreSQL; SQLite's write transaction holds the database): the patch
            # applies to the preferences as they are now, which another patch may have
            # changed meanwhile. Only new status ids would need the PSA again.
            account = await get_account(tx, req.account_id)
            await tx.refresh(account, with_for_update=True)
            preferences = _merged(account.preferences, req.body.preferences)
            errors = preference_errors(preferences)
            if errors:
                raise Unprocessable("The preferences are not valid.", details={"fields": errors})
            if _targets(preferences) == _targets(checked):
                account.preferences = preferences
                return SettingsOut(account=account.slug, preferences=preferences)
    raise Conflict(
        "The preferences kept changing while this patch was applied; send it again.",
        code="settings_changed",
    )


def _merged(stored: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any]:
    """RFC 7396: the stored preferences with the patch merged in (null preferences: none)."""
    if patch is None:
        return {}
    return json_merge_patch.merge(copy.deepcopy(stored or {}), patch)


def _targets(preferences: dict[str, Any]) -> frozenset[StatusTarget]:
    return frozenset(AccountPreferences.from_stored(preferences).status_targets())


async def _validate(req: Req, account: Account, preferences: dict[str, Any]) -> None:
    errors = preference_errors(preferences)
    if errors:
        raise Unprocessable("The preferences are not valid.", details={"fields": errors})
    await _check_statuses_exist(req, account, AccountPreferences.from_stored(preferences))


async def _check_statuses_exist(req: Req, account: Account, prefs: AccountPreferences) -> None:
    """Every configured status id exists and is active on its board (account-wide ids: on
    some board), as the account's PSA says now."""
    targets = prefs.status_targets()
    if not targets or not has_psa(account):
        return
    psa = req.psa.for_account(account)
    try:
        statuses = await read_board_statuses(psa, targets)
    except PSAError as exc:
        raise psa_api_error(exc, psa_label(account)) from None
    label = psa_label(account)
    errors = {
        check.target.field: _problem_text(check, label)
        for check in check_status_targets(targets, statuses)
        if check.problem is not None
    }
    if errors:
        raise Unprocessable(
            f"Some status ids are not valid {label} statuses.", details={"fields": errors}
        )


def _problem_text(check: StatusCheck, label: str) -> str:
    target = check.target
    if check.problem == "no_board":
        return f"board {target.board_id} does not exist in {label}"
    if check.problem == "inactive":
        assert check.status is not None
        return f"status {target.status_id} ({check.status.name}) is inactive"
    where = f"board {target.board_id}" if target.board_id is not None else "any board"
    return f"status {target.status_id} does not exist on {where}"
