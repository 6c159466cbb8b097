"""The session secret memory: every value caught as a secret in any input of a session (a
chat message, a fact, the ticket's text, a script parameter, a pasted secret) is remembered
for that session, encrypted with the instance secret, and scrubbed from every later output
in every form it may take — so a secret caught once is never sent again, even where no
detector would see it, and a model that repeats it is scrubbed too.

What is stored is the ciphertext and an HMAC of the value (to remember each value once);
the inputs themselves are stored already redacted, so a database dump holds no plain secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, UTCDateTime, insert_for, utcnow
from plugin.kernel.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    Finding,
    find_secrets,
    redact_text,
    redact_values,
)
from plugin.kernel.redaction.findings import apply

log = structlog.get_logger("fixpilot.secret_memory")

SOURCES = ("chat", "fact", "ticket", "parameter", "paste", "note", "reply")


class SessionSecret(Base):
    __tablename__ = "session_secrets"
    __table_args__ = (
        UniqueConstraint("session_id", "digest"),
        Index("ix_session_secrets_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))  # a pasted secret's name
    digest: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecretBox:
    """Encryption with keys derived from instance secrets: the first encrypts, all decrypt
    (so rotating the instance secret keeps old rows readable until they are re-encrypted)."""

    def __init__(self, *instance_secrets: str) -> None:
        if not instance_secrets or not instance_secrets[0]:
            raise ValueError("the instance secret key is not loaded yet")
        self._fernet = MultiFernet([Fernet(_derive(s, b"encrypt")) for s in instance_secrets])
        self._mac_key = _derive(instance_secrets[0], b"digest")

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None  # encrypted under a key this instance no longer has

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    def digest(self, value: str) -> str:
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()


# A value sealed at rest (a PSA private key): the prefix tells it from a plain value stored
# before encryption at rest, which is read as is until it is sealed.
SEALED_PREFIX = "fernet:"


def seal(box: SecretBox, value: str) -> str:
    return SEALED_PREFIX + box.encrypt(value)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def unseal(box: SecretBox, value: str) -> str | None:
    """The plain value (a value never sealed is returned as is); None when it was sealed
    under a secret the box does not hold."""
    return box.decrypt(value.removeprefix(SEALED_PREFIX)) if is_sealed(value) else value


def reseal(box: SecretBox, value: str) -> str | None:
    """The value sealed under the box's first secret (None when no secret of the box
    opens it)."""
    plain = unseal(box, value)
    return seal(box, plain) if plain is not None else None


@dataclass
class InstanceKeys:
    """Keys that exist once per installation, loaded at start-up (shared by replicas)."""

    secret_key: str = field(default="", repr=False)
    # Secrets that open what they sealed and seal nothing (a rotation under way, or the
    # generated secret a configured one replaced).
    fallbacks: tuple[str, ...] = field(default=(), repr=False)

    @property
    def loaded(self) -> bool:
        return bool(self.secret_key)

    def box(self) -> SecretBox:
        """What session secrets and PSA private keys are sealed with, and opened with."""
        return SecretBox(self.secret_key, *self.fallbacks)


def _derive(secret: str, purpose: bytes) -> bytes:
    raw = hmac.new(secret.encode(), b"fixpilot session secrets " + purpose, hashlib.sha256)
    return base64.urlsafe_b64encode(raw.digest())


@dataclass(frozen=True)
class Caught:
    value: str
    kind: str


@dataclass
class TakenIn:
    """An input after the memory took it in: the text to store, and the kinds of what was
    redacted in it (in order), for the pod's chips."""

    text: str
    redactions: list[str] = field(default_factory=list)


def caught_in(text: str, findings: list[Finding]) -> list[Caught]:
    return [
        Caught(text[f.start : f.end], f.kind)
        for f in findings
        if f.end - f.start >= MIN_SECRET_LENGTH
    ]


async def remember(
    tx: AsyncSession,
    box: SecretBox,
    ai_session_id: int,
    caught: Iterable[Caught],
    *,
    source: str,
    label: str | None = None,
) -> None:
    """Store each value once per session (insert-or-ignore on its digest)."""
    rows = [
        {
            "session_id": ai_session_id,
            "kind": secret.kind,
            "source": source,
            "label": label,
            "digest": box.digest(secret.value),
            "ciphertext": box.encrypt(secret.value),
            "created_at": utcnow(),
        }
        for secret in caught
        if secret.value and secret.value != REDACTED
    ]
    if rows:
        insert = insert_for(tx.bind.dialect.name, SessionSecret)
        await tx.execute(insert.values(rows).on_conflict_do_nothing())


async def recall(db: AsyncSession, box: SecretBox, ai_session_id: int) -> list[str]:
    """Every value remembered for the session, decrypted (in memory only)."""
    tokens = await db.execute(
        select(SessionSecret.ciphertext).where(SessionSecret.session_id == ai_session_id)
    )
    values = [box.decrypt(token) for token in tokens.scalars()]
    if None in values:
        # Sealed under a secret this instance does not hold: those values are no longer
        # scrubbed from what the session sends (README, "Keys at rest": fallbacks).
        log.error(
            "remembered_secrets_unreadable", session_id=ai_session_id, count=values.count(None)
        )
    return [value for value in values if value]


async def take_in(
    tx: AsyncSession, box: SecretBox, ai_session_id: int, text: str, *, source: str
) -> TakenIn:
    """Detect and remember the secrets of an input; return it redacted, remembered values
    from earlier inputs included."""
    findings = find_secrets(text)
    await remember(tx, box, ai_session_id, caught_in(text, findings), source=source)
    redacted = _apply(text, findings)
    known = await recall(tx, box, ai_session_id)
    scrubbed = redact_values(redacted, known)
    kinds = [f.kind for f in findings]
    extra = scrubbed.count(REDACTED) - redacted.count(REDACTED)
    return TakenIn(scrubbed, kinds + ["remembered"] * max(0, extra))


def _apply(text: str, findings: list[Finding]) -> str:
    return apply(text, findings) if findings else text


def scrub(text: str, remembered: list[str]) -> str:
    """An output, cleaned: every remembered value in every form, then secret patterns."""
    return redact_text(redact_values(text, remembered)) if text else text


async def pasted_value(db: AsyncSession, box: SecretBox, ai_session_id: int, secret_id: int) -> str:
    """The value of one remembered secret of the session (to fill a sensitive parameter);
    KeyError when the session has no such secret or it can no longer be decrypted."""
    row = await db.get(SessionSecret, secret_id)
    value = box.decrypt(row.ciphertext) if row and row.session_id == ai_session_id else None
    if value is None:
        raise KeyError(secret_id)
    return value
