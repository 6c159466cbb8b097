"""The simulator's records and constants: boards, statuses, members, hosted screens, errors.

Records render themselves in ConnectWise's own JSON shapes (`to_cw`, `ref`, ...), so the
REST handlers return them as they are. The shapes follow the models pyconnectwise generates
from ConnectWise's API schema (see tests/fixtures/connectwise/real_shapes/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Codebases: classic sites and API URLs use "v4_6_release"; a Cloud site's companyinfo names
# a versioned codebase, which serves the same API (the simulator answers under both).
CLASSIC_CODEBASE = "v4_6_release"
CLOUD_CODEBASE = "v2025_1"
API_PREFIX = f"/{CLASSIC_CODEBASE}/apis/3.0"
# Where ConnectWise serves callback signing keys: under the codebase, outside /apis/3.0.
CALLBACK_KEY_PATH = "system/callbackkey/index.rails"
# The simulator's first key path (inside /apis/3.0); older fixtures and benches still use it.
LEGACY_SIGNING_KEY_PATH = "system/callbacks/signingkey"
HUMAN_MEMBER = "jsmith"

# ConnectWise's hosted screens (`GET system/connectWiseHostedScreens`). The Service Ticket
# screen is deliberately not id 1: code must look it up, not hard-code it. Ids and screenId
# strings are made up; the shape (id, name, screenId) is ConnectWise's.
SERVICE_TICKET_SCREEN_ID = 43
HOSTED_SCREENS: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "Company", "screenId": "Company"},
    {"id": 12, "name": "Contact", "screenId": "Contact"},
    {"id": 27, "name": "Opportunity", "screenId": "Opportunity"},
    {"id": 35, "name": "Project", "screenId": "Project"},
    {"id": SERVICE_TICKET_SCREEN_ID, "name": "Service Ticket", "screenId": "ServiceTicket"},
    {"id": 44, "name": "Project Ticket", "screenId": "ProjectTicket"},
    {"id": 58, "name": "Agreement", "screenId": "Agreement"},
    {"id": 61, "name": "Configuration", "screenId": "Configuration"},
)

_LOCATION = {"id": 2, "name": "Tampa Office"}
_DEPARTMENT = {"id": 10, "identifier": "Services", "name": "Professional Services"}
_SEED_INFO = {"lastUpdated": "2024-01-15T10:00:00Z", "updatedBy": "admin1"}


class SimError(Exception):
    """An API error answered in ConnectWise's shape `{"code", "message", "errors"}`."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def invalid_object(resource: str, code: str, field_name: str, message: str) -> SimError:
    """ConnectWise's 400 for a rejected record: `InvalidObject`, the reason inside `errors`."""
    return SimError(
        400,
        "InvalidObject",
        f"{resource} object is invalid",
        [{"code": code, "message": message, "resource": resource, "field": field_name}],
    )


@dataclass
class SimStatus:
    id: int
    name: str
    closed: bool = False
    inactive: bool = False
    default: bool = False
    sort_order: int = 0

    def to_cw(self, board: SimBoard) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "board": {"id": board.id, "name": board.name},
            "sortOrder": self.sort_order,
            "displayOnBoard": not self.inactive,
            "inactive": self.inactive,
            "closedStatus": self.closed,
            "timeEntryNotAllowed": self.closed,
            "defaultFlag": self.default,
            "customerPortalFlag": True,
            "_info": dict(_SEED_INFO),
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "sort": self.sort_order}


@dataclass
class SimBoard:
    id: int
    name: str
    statuses: list[SimStatus] = field(default_factory=list)

    def status(self, status_id: int) -> SimStatus | None:
        return next((s for s in self.statuses if s.id == status_id), None)

    def default_status(self) -> SimStatus:
        return next((s for s in self.statuses if s.default), self.statuses[0])

    def first_closed_status(self) -> SimStatus:
        return next(s for s in self.statuses if s.closed and not s.inactive)

    def to_cw(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "location": dict(_LOCATION),
            "department": dict(_DEPARTMENT),
            "inactiveFlag": False,
            "projectFlag": False,
            "_info": dict(_SEED_INFO),
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass
class SimMember:
    id: int
    identifier: str
    first_name: str
    last_name: str
    email: str
    # What the Hosted API hands a pod for this member; both travel together when the pod's
    # server verifies the member. None for members that cannot use pods (the API member).
    member_hash: str | None = None
    member_context: str | None = None
    license_class: str = "F"  # F full member, A API member (ConnectWise's letters)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def my_member_info(self) -> dict[str, Any]:
        """`GET system/myMembers/info`: ConnectWise's MyMemberInfo, not the Member record."""
        return {
            "id": self.id,
            "identifier": self.identifier,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "fullName": self.full_name,
            "defaultEmail": self.email,
            "inactiveFlag": False,
            "licenseClass": self.license_class,
            "defaultLocation": dict(_LOCATION),
            "defaultDepartment": dict(_DEPARTMENT),
            "serviceDefaultBoard": {"id": 1, "name": "Help Desk"},
            "timeZone": {"id": 1, "name": "GMT-5/Eastern Time: US & Canada"},
            "dailyCapacity": 8.0,
            "enterTimeAgainstCompanyFlag": True,
            "requireTimeSheetEntryFlag": self.license_class == "F",
            "_info": dict(_SEED_INFO),
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "identifier": self.identifier, "name": self.full_name}


def now() -> str:
    """ConnectWise's timestamp format: UTC, seconds, a trailing Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
