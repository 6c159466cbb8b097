"""The PSA's boards and statuses, for the settings screen (engineers may read them)."""

from __future__ import annotations

from plugin.features.psa_setup.schemas import BoardStatus, BoardStatuses
from plugin.kernel.errors import Conflict, NotFound
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.psa import has_psa, psa_label
from plugin.kernel.psa_errors import psa_api_error
from plugin.kernel.tenancy import get_account
from providers.psa import PSAError, PSANotFound

routes = RouteTable("writeback")


@routes.get(
    "/api/v1/psa/boards/{board_id}/statuses",
    summary="A ConnectWise board's statuses (engineers may read them too)",
    response=BoardStatuses,
    errors=(404, 409, 502, 503),
)
async def board_statuses(req: Req) -> BoardStatuses:
    board_id = req.path_int("board_id")
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    if not has_psa(account):
        raise Conflict(
            "This account has no ConnectWise connection; configure it first.",
            code="psa_not_connected",
        )
    label = psa_label(account)
    try:
        statuses = await req.psa.for_account(account).list_board_statuses(board_id)
    except PSANotFound:
        raise NotFound(
            f"Board {board_id} does not exist in {label}.", code="board_not_found"
        ) from None
    except PSAError as exc:
        raise psa_api_error(exc, label) from None
    return BoardStatuses(
        items=[
            BoardStatus(
                id=s.id, name=s.name, closed=s.closed, inactive=s.inactive, default=s.default
            )
            for s in statuses
        ]
    )
