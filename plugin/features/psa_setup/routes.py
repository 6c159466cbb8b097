"""The PSA's boards and statuses, for the settings screen (engineers may read them)."""

from __future__ import annotations

from plugin.features.psa_setup.doctor import run_doctor
from plugin.features.psa_setup.report import Report
from plugin.features.psa_setup.schemas import (
    BoardList,
    BoardOut,
    BoardStatus,
    BoardStatuses,
    DoctorLine,
    DoctorReport,
)
from plugin.kernel.errors import Conflict, NotFound
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.psa import has_psa, psa_label
from plugin.kernel.psa_errors import psa_api_error
from plugin.kernel.tenancy import Account, get_account
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
    account = await _connected_account(req)
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


async def _connected_account(req: Req) -> Account:
    async with req.database.read() as db:
        account = await get_account(db, req.account_id)
    if not has_psa(account):
        raise Conflict(
            "This account has no ConnectWise connection; configure it first.",
            code="psa_not_connected",
        )
    return account


@routes.get(
    "/api/v1/psa/boards",
    summary="The ConnectWise boards (engineers may read them too)",
    response=BoardList,
    errors=(409, 502, 503),
)
async def boards(req: Req) -> BoardList:
    account = await _connected_account(req)
    try:
        found = await req.psa.for_account(account).list_boards()
    except PSAError as exc:
        raise psa_api_error(exc, psa_label(account)) from None
    return BoardList(items=[BoardOut(id=b.id, name=b.name) for b in found])


@routes.get(
    "/api/v1/admin/doctor",
    summary="The doctor's checks of the account's PSA set-up, each with its result (admin; "
    "changes nothing)",
    auth="admin",
    response=DoctorReport,
    errors=(409,),
)
async def doctor(req: Req) -> DoctorReport:
    account = await _connected_account(req)
    report = Report()
    await run_doctor(
        req.psa.for_account(account),
        account,
        req.settings.public_url,
        False,
        report,
        secret_configured=req.settings.instance_secret_configured,
    )
    return DoctorReport(
        lines=[
            DoctorLine(ok=line.ok, what=line.what, why=line.why, warning=line.warning)
            for line in report.lines
        ],
        failures=report.failures,
    )
