from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.kernel.db import Base, UTCDateTime, utcnow
from plugin.kernel.states import DocumentKind, values


class NotePreview(Base):
    """A drafted document for one (kind, session, state_version): the preview cache's table."""

    __tablename__ = "note_previews"
    __table_args__ = (
        CheckConstraint(f"kind IN {values(DocumentKind)!r}", name="kind"),
        UniqueConstraint("kind", "session_id", "state_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ai_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    state_version: Mapped[int] = mapped_column(Integer)
    markdown: Mapped[str] = mapped_column(Text)
    generator: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
