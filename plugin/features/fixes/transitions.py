"""The suggested-fix status machine of DESIGN §3, as a table.

Pure: the caller loads the fix, asks ``plan_transition`` what to write, and writes it with a
compare-and-set on the status it read (so concurrent outcomes cannot both win).

``partial_notes`` and ``pending_reason`` are never cleared. When a fix leaves applied_partial
or applied_pending they stay as history (what still failed, what we waited on); readers
decide by ``status``, never by whether the text is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from plugin.kernel.states import FixStatus

Via = Literal["outcome", "decision"]
BannerMode = Literal["verifying", "nudge", "partial", "pending"]


_S = FixStatus
OUTCOME_STATUSES = frozenset(
    {_S.APPLIED_SUCCESS, _S.APPLIED_FAILED, _S.APPLIED_PARTIAL, _S.APPLIED_PENDING}
)
TERMINAL = frozenset({_S.APPLIED_SUCCESS, _S.APPLIED_FAILED, _S.DISMISSED})
# The table's columns, in its order. Nothing moves a fix back to "suggested".
TARGETS: tuple[FixStatus, ...] = (
    _S.APPLIED_SUCCESS,
    _S.APPLIED_FAILED,
    _S.APPLIED_PARTIAL,
    _S.APPLIED_PENDING,
    _S.DISMISSED,
)


@dataclass(frozen=True)
class Rule:
    via: Via  # the endpoint that performs this move
    conflict: str | None = None  # why it is refused (409); None when allowed
    requires: Literal["notes", "pending_reason"] | None = None
    stamps_applied_at: bool = False  # only when applied_at is not yet set
    stamps_verified_at: bool = False
    stamps_superseded_at: bool = False

    @property
    def allowed(self) -> bool:
        return self.conflict is None


_VERIFIED = Rule("outcome", stamps_applied_at=True, stamps_verified_at=True)
_PARTIAL = Rule("outcome", requires="notes", stamps_applied_at=True)
_PENDING = Rule("outcome", requires="pending_reason", stamps_applied_at=True)
_DISMISS = Rule("decision", stamps_superseded_at=True)
_NO_DISMISS = Rule(
    "decision", conflict="An applied fix cannot be dismissed; report how it went instead."
)
_FINAL = Rule("outcome", conflict="The fix's outcome is final and cannot change.")
_FINAL_DISMISS = Rule("decision", conflict="The fix's outcome is final and cannot change.")

_ROWS: dict[FixStatus, tuple[Rule, ...]] = {
    # from \ to          success    failed     partial   pending   dismissed
    _S.SUGGESTED:       (_VERIFIED, _VERIFIED, _PARTIAL, _PENDING, _DISMISS),
    _S.APPLIED_PARTIAL: (_VERIFIED, _VERIFIED, _PARTIAL, _PENDING, _NO_DISMISS),
    _S.APPLIED_PENDING: (_VERIFIED, _VERIFIED, _PARTIAL, _PENDING, _NO_DISMISS),
    _S.APPLIED_SUCCESS: (_FINAL,    _FINAL,    _FINAL,   _FINAL,   _FINAL_DISMISS),
    _S.APPLIED_FAILED:  (_FINAL,    _FINAL,    _FINAL,   _FINAL,   _FINAL_DISMISS),
    _S.DISMISSED:       (_FINAL,    _FINAL,    _FINAL,   _FINAL,   _FINAL_DISMISS),
}  # fmt: skip

TRANSITIONS: dict[tuple[FixStatus, FixStatus], Rule] = {
    (current, target): rule
    for current, row in _ROWS.items()
    for target, rule in zip(TARGETS, row, strict=True)
}

_REQUIRED_MESSAGES = {
    "notes": "Describe what still isn't working when the fix only partly worked.",
    "pending_reason": "Say what you are waiting on before the fix can be verified.",
}


class TransitionError(Exception):
    """A refused transition, shaped for the API's error body."""

    def __init__(
        self, http_status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class TransitionPlan:
    """What to write. None / False means leave the column as it is."""

    target: FixStatus
    set_partial_notes: str | None
    set_pending_reason: str | None
    stamp_applied_at: bool
    stamp_verified_at: bool
    stamp_superseded_at: bool


def plan_transition(
    *,
    current: FixStatus | str,
    superseded: bool,
    target: FixStatus | str,
    notes: str | None,
    pending_reason: str | None,
    applied_at_set: bool,
    via: Via,
) -> TransitionPlan:
    """Checks, in order: the target belongs to this endpoint (422), the fix is not
    superseded (409), the table allows the move (409), the required text is present (422).
    State conflicts come before missing text: adding notes would not make a 409 succeed.
    """
    current, target = FixStatus(current), FixStatus(target)
    field = "outcome" if via == "outcome" else "decision"
    rule = TRANSITIONS.get((current, target))
    if rule is None or rule.via != via:
        raise TransitionError(
            422,
            "invalid_target",
            f"'{target.value}' is not a valid {field} here.",
            {"fields": {field: f"'{target.value}' is not accepted by this endpoint"}},
        )
    conflict_details = {"status": current.value, "target": target.value}
    if superseded:
        raise TransitionError(
            409,
            "fix_superseded",
            "This fix has been superseded by a newer suggestion or dismissed.",
            conflict_details,
        )
    if rule.conflict is not None:
        raise TransitionError(409, "fix_transition_not_allowed", rule.conflict, conflict_details)

    given = {"notes": _non_blank(notes), "pending_reason": _non_blank(pending_reason)}
    if rule.requires is not None and given[rule.requires] is None:
        raise TransitionError(
            422,
            f"{rule.requires}_required",
            _REQUIRED_MESSAGES[rule.requires],
            {"fields": {rule.requires: "required, and must not be blank"}},
        )
    return TransitionPlan(
        target=target,
        set_partial_notes=given["notes"] if rule.requires == "notes" else None,
        set_pending_reason=given["pending_reason"] if rule.requires == "pending_reason" else None,
        stamp_applied_at=rule.stamps_applied_at and not applied_at_set,
        stamp_verified_at=rule.stamps_verified_at,
        stamp_superseded_at=rule.stamps_superseded_at,
    )


def banner_mode(
    *,
    status: FixStatus | str,
    applied_at: datetime | None,
    superseded: bool,
    now: datetime,
    nudge_after: timedelta,
) -> BannerMode | None:
    """The pod's banner for a fix. A superseded fix has none. Naive datetimes are UTC (the
    columns store UTC)."""
    status = FixStatus(status)
    if superseded:
        return None
    if status == _S.APPLIED_PARTIAL:
        return "partial"
    if status == _S.APPLIED_PENDING:
        return "pending"
    if status == _S.SUGGESTED and applied_at is not None:
        return "nudge" if _as_utc(now) - _as_utc(applied_at) >= nudge_after else "verifying"
    return None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _non_blank(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None
