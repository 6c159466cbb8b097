"""The last check before the customer: the final text of a customer-visible note (which the
engineer may have edited) is run through the secret detector and the session's secret
memory. A hit is a 422 naming the spans (start, end, kind — never the value), unless the
engineer allowed exactly that span; what is allowed is recorded with the writeback. An
internal note is scrubbed the same way but never blocked."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from plugin.features.writeback.schemas import AllowedSpan
from plugin.kernel.errors import Unprocessable
from plugin.kernel.redaction import Finding, find_secrets, known_values
from plugin.kernel.redaction.findings import apply, merged

log = structlog.get_logger("fixpilot.writeback.gate")


@dataclass(frozen=True)
class CheckedDocument:
    text: str
    allowed: list[dict]  # the spans let through, as recorded


def secret_spans(text: str, remembered: list[str]) -> list[Finding]:
    """What the detector finds, and where a remembered value stands."""
    known = known_values(remembered)
    stored = []
    if known.pattern is not None:
        stored = [Finding(m.start(), m.end(), "remembered") for m in known.pattern.finditer(text)]
    return merged([*find_secrets(text), *stored])


def check_customer_note(
    text: str, remembered: list[str], allow: list[AllowedSpan], *, ai_session_id: int
) -> CheckedDocument:
    spans = secret_spans(text, remembered)
    allowed_positions = {(a.start, a.end) for a in allow}
    blocking = [f for f in spans if (f.start, f.end) not in allowed_positions]
    if blocking:
        raise Unprocessable(
            "The note contains what looks like a secret. Remove it, or confirm each span "
            "that is not a secret with allow_spans.",
            code="secret_detected",
            details={"spans": [{"start": f.start, "end": f.end, "kind": f.kind} for f in blocking]},
        )
    allowed = [{"start": f.start, "end": f.end, "kind": f.kind} for f in spans]
    for span in allowed:
        log.info("secret_span_allowed", session_id=ai_session_id, **span)
    return CheckedDocument(text, allowed)


def scrub_internal_note(text: str, remembered: list[str]) -> CheckedDocument:
    return CheckedDocument(apply(text, secret_spans(text, remembered)), [])
