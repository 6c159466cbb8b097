"""Every persisted state as a StrEnum: the one place its values are spelled.

The values are what the database stores (CHECK constraints are built from them with
`values()`), what the API returns and what clients send, so renaming a member's value is a
migration, never a refactor.
"""

from __future__ import annotations

from enum import StrEnum


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The stored values, in declaration order (for CHECK constraints and Literal types)."""
    return tuple(member.value for member in enum)


class SessionStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    RESOLVED_LOCAL = "resolved_local"
    ESCALATED_LOCAL = "escalated_local"


class TicketState(StrEnum):
    """What happened to a session's ticket outside Fixpilot (set by callback processing)."""

    OPEN = "open"
    CLOSED_OUTSIDE = "closed_outside"
    MERGED = "merged"
    MOVED_BOARD = "moved_board"
    DELETED = "deleted"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class FactSource(StrEnum):
    ENGINEER = "engineer"
    ASSISTANT = "assistant"
    TICKET = "ticket"


class FixStatus(StrEnum):
    SUGGESTED = "suggested"
    APPLIED_SUCCESS = "applied_success"
    APPLIED_FAILED = "applied_failed"
    APPLIED_PARTIAL = "applied_partial"
    APPLIED_PENDING = "applied_pending"
    DISMISSED = "dismissed"


class CheckStatus(StrEnum):
    """A diagnostic check the assistant proposed: open, ticked off with a result (which
    became a fact), or set aside (by the engineer, or replaced by the assistant's newer
    checks)."""

    PROPOSED = "proposed"
    DONE = "done"
    DISMISSED = "dismissed"


class FixDecision(StrEnum):
    ONE_OFF = "one_off"
    DRAFT_TEMPLATE = "draft_template"
    BUILD_TEMPLATE = "build_template"
    DISMISSED = "dismissed"


class WritebackKind(StrEnum):
    RESOLUTION = "resolution"
    ESCALATION = "escalation"


class WritebackState(StrEnum):
    """Exactly where a writeback is: the one field that says so.

    A runner moves it forward, saving each step before the next PSA call:

        pending ──note posted──▶ note_posted ──status set──▶ status_requested ──▶ done

    A runner holds a row in pending, note_posted or status_requested under a lease. A PSA
    that is down or throttling puts it in waiting_retry (due at `next_attempt_at`, retried
    for ever with a capped backoff); an answer the PSA will never accept puts it in failed
    (until the engineer or an admin retries it); an admin can cancel anything not done.
    """

    PENDING = "pending"
    NOTE_POSTED = "note_posted"
    STATUS_REQUESTED = "status_requested"
    WAITING_RETRY = "waiting_retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DONE = "done"


# States in which a runner holds the writeback (under `lease_until`).
WRITEBACK_RUNNING = (
    WritebackState.PENDING,
    WritebackState.NOTE_POSTED,
    WritebackState.STATUS_REQUESTED,
)
# States that need nothing more: everything else is open.
WRITEBACK_CLOSED = (WritebackState.DONE, WritebackState.CANCELLED)


class CallbackEventStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"
    IGNORED = "ignored"


class TokenRole(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"


class TokenKind(StrEnum):
    API = "api"  # created by an admin, long-lived
    POD = "pod"  # issued to a ConnectWise member verified by the pod, short-lived


class ScriptLanguage(StrEnum):
    POWERSHELL = "powershell"
    BASH = "bash"
    CMD = "cmd"


class TemplateOrigin(StrEnum):
    LIBRARY = "library"
    CUSTOM = "custom"
    PROMOTED = "promoted"


class DraftStatus(StrEnum):
    DRAFT = "draft"
    PROMOTED = "promoted"
    DISCARDED = "discarded"


class DocumentKind(StrEnum):
    RESOLUTION_NOTE = "resolution_note"
    ESCALATION_PACKAGE = "escalation_package"
    KB_ARTICLE = "kb_article"  # internal knowledge-base article (allowed on a closed session)


class WorkSource(StrEnum):
    """Where an entry of the similar-work index came from."""

    SESSION = "session"  # a Fixpilot session, resolved or escalated
    HISTORY = "history"  # a closed PSA ticket imported without a session


class WorkOutcome(StrEnum):
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class LLMCallOutcome(StrEnum):
    OK = "ok"
    ERROR = "error"
