import itertools
from datetime import UTC, datetime, timedelta

import pytest

from plugin.features.fixes.transitions import (
    OUTCOME_STATUSES,
    TARGETS,
    TERMINAL,
    TRANSITIONS,
    FixStatus,
    TransitionError,
    banner_mode,
    plan_transition,
)

S = FixStatus

# An independent copy of the table in DESIGN.md §3. "ok" = allowed; "notes" / "reason" =
# requires that text; "decision" = only through the decision endpoint; 409 = refused.
DESIGN_TABLE = """
from \\ to      | applied_success | applied_failed | applied_partial | applied_pending | dismissed
suggested       | ok              | ok             | ok notes        | ok reason       | ok decision
applied_partial | ok              | ok             | ok notes        | ok reason       | 409
applied_pending | ok              | ok             | ok notes        | ok reason       | 409
applied_success | 409             | 409            | 409             | 409             | 409
applied_failed  | 409             | 409            | 409             | 409             | 409
dismissed       | 409             | 409            | 409             | 409             | 409
"""


def parse_design_table() -> dict[tuple[str, str], set[str]]:
    header, *rows = [line for line in DESIGN_TABLE.strip().splitlines()]
    targets = [cell.strip() for cell in header.split("|")[1:]]
    cells = {}
    for row in rows:
        current, *row_cells = [cell.strip() for cell in row.split("|")]
        for target, cell in zip(targets, row_cells, strict=True):
            cells[(current, target)] = set(cell.split())
    return cells


EXPECTED = parse_design_table()
ALL_PAIRS = list(itertools.product(FixStatus, TARGETS))


def plan(**overrides):
    arguments = {
        "current": S.SUGGESTED,
        "superseded": False,
        "target": S.APPLIED_SUCCESS,
        "notes": None,
        "pending_reason": None,
        "applied_at_set": False,
        "via": "outcome",
    }
    return plan_transition(**{**arguments, **overrides})


def endpoint_for(target: FixStatus) -> str:
    # DESIGN: outcomes go through PATCH …/outcome, dismissal through POST …/decision.
    return "decision" if target == S.DISMISSED else "outcome"


def test_table_covers_exactly_every_status_and_target():
    assert set(EXPECTED) == {(a.value, b.value) for a, b in ALL_PAIRS}
    assert set(TRANSITIONS) == set(ALL_PAIRS)
    assert S.SUGGESTED not in TARGETS


@pytest.mark.parametrize("current, target", ALL_PAIRS, ids=lambda status: status.value)
def test_each_cell_of_the_design_table(current, target):
    expected = EXPECTED[(current.value, target.value)]
    rule = TRANSITIONS[(current, target)]
    assert rule.allowed == ("ok" in expected)
    assert rule.via == endpoint_for(target)
    call = {"current": current, "target": target, "via": endpoint_for(target)}

    if "409" in expected:
        with pytest.raises(TransitionError) as refused:
            plan(**call, notes="n", pending_reason="r")
        assert (refused.value.http_status, refused.value.code) == (
            409,
            "fix_transition_not_allowed",
        )
        return

    filled = {"notes": "n", "pending_reason": "r"}
    assert plan(**call, **filled).target == target
    for needed, field, code in [
        ("notes", "notes", "notes_required"),
        ("reason", "pending_reason", "pending_reason_required"),
    ]:
        if needed in expected:
            with pytest.raises(TransitionError) as missing:
                plan(**call, **{**filled, field: None})
            assert (missing.value.http_status, missing.value.code) == (422, code)
            assert list(missing.value.details["fields"]) == [field]
        else:
            plan(**call, **{**filled, field: None})  # not needed: no error
    if "decision" in expected:
        with pytest.raises(TransitionError) as wrong_endpoint:
            plan(**{**call, "via": "outcome"}, **filled)
        assert wrong_endpoint.value.http_status == 422


def test_status_sets():
    assert {S.APPLIED_SUCCESS, S.APPLIED_FAILED, S.APPLIED_PARTIAL, S.APPLIED_PENDING} == (
        OUTCOME_STATUSES
    )
    assert {S.APPLIED_SUCCESS, S.APPLIED_FAILED, S.DISMISSED} == TERMINAL


@pytest.mark.parametrize(
    "target, field", [(S.APPLIED_PARTIAL, "notes"), (S.APPLIED_PENDING, "pending_reason")]
)
@pytest.mark.parametrize("blank", [None, "", "   \n\t"])
def test_blank_required_text_is_422_naming_the_field(target, field, blank):
    with pytest.raises(TransitionError) as error:
        plan(target=target, **{field: blank})
    assert error.value.http_status == 422
    assert error.value.code == f"{field}_required"
    assert field in error.value.details["fields"]
    assert error.value.message


def test_required_text_is_stored_stripped_and_only_in_its_own_column():
    partial = plan(target=S.APPLIED_PARTIAL, notes="  printer 2 still fails ", pending_reason="r")
    assert (partial.set_partial_notes, partial.set_pending_reason) == (
        "printer 2 still fails",
        None,
    )
    pending = plan(target=S.APPLIED_PENDING, notes="n", pending_reason=" user to reboot ")
    assert (pending.set_partial_notes, pending.set_pending_reason) == (None, "user to reboot")
    success = plan(target=S.APPLIED_SUCCESS, notes="n", pending_reason="r")
    assert (success.set_partial_notes, success.set_pending_reason) == (None, None)


@pytest.mark.parametrize("target", [S.APPLIED_SUCCESS, S.APPLIED_FAILED])
def test_success_and_failure_stamp_verified_and_applied_if_unset(target):
    fresh = plan(target=target, applied_at_set=False)
    assert (fresh.stamp_verified_at, fresh.stamp_applied_at) == (True, True)
    already_applied = plan(target=target, applied_at_set=True)
    assert (already_applied.stamp_verified_at, already_applied.stamp_applied_at) == (True, False)


@pytest.mark.parametrize("current", [S.SUGGESTED, S.APPLIED_PARTIAL, S.APPLIED_PENDING])
@pytest.mark.parametrize("target", [S.APPLIED_PARTIAL, S.APPLIED_PENDING])
def test_partial_and_pending_never_stamp_verified(current, target):
    for applied_at_set in (False, True):
        result = plan(
            current=current,
            target=target,
            notes="n",
            pending_reason="r",
            applied_at_set=applied_at_set,
        )
        assert result.stamp_verified_at is False
        assert result.stamp_applied_at is (not applied_at_set)
        assert result.stamp_superseded_at is False


def test_dismissal_supersedes_and_stamps_nothing_else():
    result = plan(target=S.DISMISSED, via="decision")
    assert result.stamp_superseded_at is True
    assert (result.stamp_applied_at, result.stamp_verified_at) == (False, False)


def test_same_status_updates_the_text():
    partial = plan(
        current=S.APPLIED_PARTIAL,
        target=S.APPLIED_PARTIAL,
        notes="now only printer 3",
        applied_at_set=True,
    )
    assert partial.set_partial_notes == "now only printer 3"
    assert partial.stamp_applied_at is False
    pending = plan(
        current=S.APPLIED_PENDING,
        target=S.APPLIED_PENDING,
        pending_reason="waiting on vendor",
        applied_at_set=True,
    )
    assert pending.set_pending_reason == "waiting on vendor"


def test_leaving_pending_keeps_the_reason_as_history():
    result = plan(current=S.APPLIED_PENDING, target=S.APPLIED_SUCCESS, applied_at_set=True)
    assert result.set_pending_reason is None  # None = leave the column as it is


@pytest.mark.parametrize("current, target", ALL_PAIRS, ids=lambda status: status.value)
def test_superseded_fix_takes_no_transition(current, target):
    with pytest.raises(TransitionError) as error:
        plan(
            current=current,
            target=target,
            superseded=True,
            notes="n",
            pending_reason="r",
            via=endpoint_for(target),
        )
    assert (error.value.http_status, error.value.code) == (409, "fix_superseded")


def test_state_conflict_comes_before_missing_text():
    with pytest.raises(TransitionError) as error:
        plan(current=S.APPLIED_SUCCESS, target=S.APPLIED_PARTIAL, notes=None)
    assert error.value.http_status == 409


@pytest.mark.parametrize(
    "target, via, field",
    [
        (S.DISMISSED, "outcome", "outcome"),
        (S.SUGGESTED, "outcome", "outcome"),
        (S.APPLIED_SUCCESS, "decision", "decision"),
    ],
)
def test_target_outside_the_endpoint_is_422(target, via, field):
    with pytest.raises(TransitionError) as error:
        plan(target=target, via=via)
    assert (error.value.http_status, error.value.code) == (422, "invalid_target")
    assert field in error.value.details["fields"]


def test_plain_strings_from_the_database_are_accepted():
    assert plan(current="applied_pending", target="applied_failed").target == S.APPLIED_FAILED
    with pytest.raises(ValueError):
        plan(current="bogus")


NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NUDGE = timedelta(minutes=30)


@pytest.mark.parametrize(
    "status, applied_at, superseded, expected",
    [
        (S.SUGGESTED, None, False, None),
        (S.SUGGESTED, NOW - timedelta(minutes=5), False, "verifying"),
        (S.SUGGESTED, NOW - NUDGE + timedelta(seconds=1), False, "verifying"),
        (S.SUGGESTED, NOW - NUDGE, False, "nudge"),
        (S.SUGGESTED, NOW - timedelta(days=2), False, "nudge"),
        (S.SUGGESTED, NOW - timedelta(days=2), True, None),
        (S.APPLIED_PARTIAL, NOW, False, "partial"),
        (S.APPLIED_PENDING, NOW - timedelta(days=2), False, "pending"),
        (S.APPLIED_PENDING, NOW, True, None),
        (S.APPLIED_SUCCESS, NOW, False, None),
        (S.APPLIED_FAILED, NOW, False, None),
        (S.DISMISSED, None, False, None),
        ("applied_partial", None, False, "partial"),
    ],
)
def test_banner_mode(status, applied_at, superseded, expected):
    mode = banner_mode(
        status=status, applied_at=applied_at, superseded=superseded, now=NOW, nudge_after=NUDGE
    )
    assert mode == expected


def test_banner_mode_treats_naive_datetimes_as_utc():
    naive_applied = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    mode = banner_mode(
        status=S.SUGGESTED, applied_at=naive_applied, superseded=False, now=NOW, nudge_after=NUDGE
    )
    assert mode == "nudge"
