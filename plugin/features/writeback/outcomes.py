"""What a writeback means for its session and how it is reported: the kinds (which note,
which status role, how the session closes) and the answer to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugin.features.writeback.models import Writeback
from plugin.features.writeback.schemas import NoteRef, StatusRef, WritebackResult
from plugin.kernel.errors import BadGateway
from plugin.kernel.preferences import StatusRole
from plugin.kernel.states import SessionStatus, WritebackKind
from providers.psa import NoteKind, PSAStatusVerificationError


@dataclass(frozen=True)
class KindSpec:
    closes_as: SessionStatus
    closes_locally_as: SessionStatus
    note: NoteKind
    status_role: StatusRole


KINDS = {
    WritebackKind.RESOLUTION: KindSpec(
        SessionStatus.RESOLVED,
        SessionStatus.RESOLVED_LOCAL,
        NoteKind.RESOLUTION,
        StatusRole.RESOLVED,
    ),
    WritebackKind.ESCALATION: KindSpec(
        SessionStatus.ESCALATED,
        SessionStatus.ESCALATED_LOCAL,
        NoteKind.INTERNAL,
        StatusRole.ESCALATED,
    ),
}


def writeback_result(writeback: Writeback, outcome: str) -> WritebackResult:
    status = None
    if writeback.verified_status_id is not None:
        status = StatusRef(
            id=writeback.verified_status_id,
            name=writeback.verified_status_name,
            verified=True,
        )
    return WritebackResult(
        outcome=outcome,  # type: ignore[arg-type]
        note=NoteRef(external_id=writeback.note_external_id)
        if writeback.note_external_id
        else None,
        status=status,
        status_transition_skipped_reason=writeback.skipped_reason,
        writeback_id=writeback.id,
        state=writeback.state,
        last_error=writeback.last_error,
        created_by=writeback.created_by,
        author_member_id=writeback.author_member_id,
    )


def status_not_applied(exc: PSAStatusVerificationError, writeback_id: int) -> BadGateway:
    def describe(status) -> dict[str, Any] | None:
        if status is None:
            return None
        if isinstance(status, int):
            return {"id": status, "name": None}
        return {"id": status.id, "name": status.name}

    return BadGateway(
        "ConnectWise accepted the status change but the ticket shows another status.",
        code="status_not_applied",
        details={
            "expected": describe(exc.expected),
            "actual": describe(exc.actual),
            "writeback_id": writeback_id,
        },
    )
