"""Secrets the engineer hands over on purpose: a value pasted as a "secret" is remembered
by the session (encrypted, scrubbed from every output, never sent to the LLM) and can fill a
sensitive parameter when a script is generated (`{"secret_ref": id}`). The API shows what
the session remembers — kind, where it came from, a label — never a value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from plugin.kernel.ai_sessions import get_ai_session, require_active
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.redaction import MIN_SECRET_LENGTH
from plugin.kernel.secret_memory import Caught, SessionSecret, remember

routes = RouteTable("ai-sessions")
SECRETS = "/api/v1/ai-sessions/{session_id}/secrets"


class SecretPaste(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        min_length=1, max_length=200, description="What it is, e.g. 'svc_backup password'"
    )
    value: str = Field(
        min_length=MIN_SECRET_LENGTH,
        max_length=10_000,
        description="Stored encrypted; never returned, logged or sent to the LLM",
    )


class SecretOut(BaseModel):
    id: int
    kind: str = Field(description="password, token, private_key… or 'pasted'")
    source: str = Field(description="Where it was caught: chat, fact, ticket, parameter, paste…")
    label: str | None = None
    created_at: datetime


class SecretList(BaseModel):
    items: list[SecretOut]


@routes.post(
    SECRETS,
    summary="Hand the session a secret (stored encrypted, never sent to the LLM)",
    body=SecretPaste,
    response=SecretOut,
    status=201,
    errors=(404, 409),
)
async def paste_secret(req: Req[SecretPaste, Any]) -> SecretOut:
    async with req.database.write() as tx:
        ai_session = await get_ai_session(tx, req.account_id, req.path_int("session_id"))
        require_active(ai_session)
        box = req.instance.box()
        label = req.body.label.strip()
        await remember(tx, box, ai_session.id, [Caught(req.body.value, "pasted")], source="paste",
                       label=label)  # fmt: skip
        row = (
            await tx.execute(
                select(SessionSecret).where(
                    SessionSecret.session_id == ai_session.id,
                    SessionSecret.digest == box.digest(req.body.value),
                )
            )
        ).scalar_one()
        return _out(row)


@routes.get(
    SECRETS,
    summary="What the session remembers as secret (never the values)",
    response=SecretList,
    errors=(404,),
)
async def list_secrets(req: Req) -> SecretList:
    async with req.database.read() as db:
        ai_session = await get_ai_session(db, req.account_id, req.path_int("session_id"))
        rows = await db.execute(
            select(SessionSecret)
            .where(SessionSecret.session_id == ai_session.id)
            .order_by(SessionSecret.id)
        )
        return SecretList(items=[_out(row) for row in rows.scalars()])


def _out(row: SessionSecret) -> SecretOut:
    return SecretOut(
        id=row.id, kind=row.kind, source=row.source, label=row.label, created_at=row.created_at
    )
