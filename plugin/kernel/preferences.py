"""An account's preferences, typed: what the settings route stores (validated by
manifest.json's settings_schema), read in one place by everyone who needs them.

The PSA status check is here too, as a pure function of what the PSA said, so the settings
route and `fixpilot connectwise doctor` judge status ids the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from providers.psa import Board, TicketStatus


class StatusRole(StrEnum):
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class BoardTargets(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resolved: int | None = None
    escalated: int | None = None

    def of(self, role: StatusRole) -> int | None:
        return self.resolved if role == StatusRole.RESOLVED else self.escalated


class AccountPreferences(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cw_resolved_status_id: int | None = None
    cw_escalated_status_id: int | None = None
    board_overrides: dict[int, BoardTargets] = Field(default_factory=dict)
    auto_open_boards: list[int] = Field(default_factory=list)
    nudge_after_minutes: int | None = None
    psa_renders_markdown: bool = False
    kb_post_to_psa: bool = False
    admin_members: list[str] = Field(default_factory=list)
    extra_pod_origins: list[str] = Field(default_factory=list)

    def is_admin_member(self, member_id: str) -> bool:
        return member_id.casefold() in {m.casefold() for m in self.admin_members}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> AccountPreferences:
        return cls.model_validate(dict(stored or {}))

    def account_status(self, role: StatusRole) -> int | None:
        if role == StatusRole.RESOLVED:
            return self.cw_resolved_status_id
        return self.cw_escalated_status_id

    def status_target(self, role: StatusRole, board_id: int | None) -> int | None:
        """The status a ticket on `board_id` moves to: the board's override, else the
        account-wide one, else None (no status change)."""
        override = self.board_overrides.get(board_id) if board_id is not None else None
        if override is not None and override.of(role):
            return override.of(role)
        return self.account_status(role) or None

    def status_targets(self) -> list[StatusTarget]:
        """Every configured status id, with the settings field that holds it."""
        targets = [
            StatusTarget(f"cw_{role}_status_id", role, status_id, None)
            for role in StatusRole
            if (status_id := self.account_status(role))
        ]
        for board_id, override in self.board_overrides.items():
            targets.extend(
                StatusTarget(f"board_overrides.{board_id}.{role}", role, status_id, board_id)
                for role in StatusRole
                if (status_id := override.of(role))
            )
        return targets

    def nudge_after(self, default_minutes: float) -> timedelta:
        return timedelta(minutes=self.nudge_after_minutes or default_minutes)

    def opens_sessions_on(self, board_id: int | None) -> bool:
        return board_id is not None and board_id in self.auto_open_boards


@dataclass(frozen=True)
class StatusTarget:
    field: str  # where it is set: "cw_resolved_status_id" or "board_overrides.2.resolved"
    role: StatusRole
    status_id: int
    board_id: int | None  # None: account-wide, valid on any board


@dataclass(frozen=True)
class StatusCheck:
    """One target judged against the PSA: `problem` is None when it is usable."""

    target: StatusTarget
    problem: str | None  # "no_board" | "no_status" | "inactive"
    status: TicketStatus | None = None  # the status found (also when inactive)


def boards_to_read(targets: Iterable[StatusTarget], boards: Iterable[Board]) -> list[int]:
    """The boards whose statuses the check needs: the overridden ones, and every board when
    an account-wide id is set (it may live on any of them)."""
    wanted = {t.board_id for t in targets if t.board_id is not None}
    if any(t.board_id is None for t in targets):
        wanted |= {board.id for board in boards}
    return sorted(wanted)


def check_status_targets(
    targets: Iterable[StatusTarget], statuses: Mapping[int, list[TicketStatus]]
) -> list[StatusCheck]:
    """Judge each target by `statuses` (board id → its statuses, as the PSA listed them)."""
    checks = []
    for target in targets:
        if target.board_id is not None and target.board_id not in statuses:
            checks.append(StatusCheck(target, "no_board"))
            continue
        boards = [target.board_id] if target.board_id is not None else sorted(statuses)
        found = [s for b in boards for s in statuses.get(b, []) if s.id == target.status_id]
        if not found:
            checks.append(StatusCheck(target, "no_status"))
        elif all(s.inactive for s in found):
            checks.append(StatusCheck(target, "inactive", found[0]))
        else:
            checks.append(StatusCheck(target, None, next(s for s in found if not s.inactive)))
    return checks
