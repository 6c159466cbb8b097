"""Account settings (preferences) over HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plugin.kernel.errors import Unprocessable
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.manifest import preference_errors
from plugin.kernel.preferences import AccountPreferences, StatusCheck, check_status_targets
from plugin.kernel.psa import has_psa, psa_label, read_board_statuses
from plugin.kernel.psa_errors import psa_api_error
from plugin.kernel.tenancy import Account, get_account
from providers.psa import PSAError

routes = RouteTable("settings")


class SettingsOut(BaseModel):
    account: str
    preferences: dict[str, Any]


class SettingsIn(BaseModel):
    preferences: dict[str, Any] = Field(
        description="The whole preferences object (validated by manifest.json's settings_schema)"
    )


@routes.get(
    "/api/v1/settings", summary="The account's preferences", auth="admin", response=SettingsOut
)
async def get_settings(req: Req) -> SettingsOut:
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    return SettingsOut(account=account.slug, preferences=account.preferences or {})


@routes.put(
    "/api/v1/settings",
    summary="Replace the account's preferences",
    auth="admin",
    body=SettingsIn,
    response=SettingsOut,
    errors=(502, 503),
)
async def put_settings(req: Req[SettingsIn, Any]) -> SettingsOut:
    preferences = req.body.preferences
    errors = preference_errors(preferences)
    if errors:
        raise Unprocessable("The preferences are not valid.", details={"fields": errors})
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    await _check_statuses_exist(req, account, AccountPreferences.from_stored(preferences))
    async with req.database.write() as tx:
        account = await get_account(tx, req.account_id)
        account.preferences = preferences
    return SettingsOut(account=account.slug, preferences=preferences)


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
