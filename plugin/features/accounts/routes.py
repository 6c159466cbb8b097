"""Account settings (preferences) over HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plugin.accounts.models import Account
from plugin.errors import Unprocessable
from plugin.http import Req, RouteTable
from plugin.manifest import preference_errors

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
    async with req.services.db.read() as session:
        account = await session.get(Account, req.account_id)
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
    for check in req.services.extras.get("preference_checks", []):
        # e.g. the PSA check that status ids exist and are active on their boards
        await check(req, preferences)
    async with req.services.db.write() as session:
        account = await session.get(Account, req.account_id)
        account.preferences = preferences
    return SettingsOut(account=account.slug, preferences=preferences)
