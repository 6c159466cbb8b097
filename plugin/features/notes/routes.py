"""Previews of the resolution note and the escalation package."""

from __future__ import annotations

from pydantic import BaseModel

from plugin.features.notes.cache import PREVIEW_CACHE
from plugin.features.notes.service import preview
from plugin.kernel.http import Req, RouteTable
from plugin.kernel.states import DocumentKind

routes = RouteTable("notes")
SESSION = "/api/v1/ai-sessions/{session_id}"


class PreviewOut(BaseModel):
    markdown: str
    from_cache: bool
    state_version: int
    generator: str


async def _preview(req: Req, kind: DocumentKind) -> PreviewOut:
    result = await preview(
        req.database,
        req.llm,
        req.app[PREVIEW_CACHE],
        req.account_id,
        req.path_int("session_id"),
        kind,
    )
    return PreviewOut(**result.__dict__)


@routes.post(
    SESSION + "/resolution-note/preview",
    summary="Draft (or fetch the cached draft of) the customer-visible resolution note",
    response=PreviewOut,
    errors=(404,),
)
async def preview_resolution_note(req: Req) -> PreviewOut:
    return await _preview(req, DocumentKind.RESOLUTION_NOTE)


@routes.post(
    SESSION + "/escalation-package/preview",
    summary="Draft (or fetch the cached draft of) the internal escalation package",
    response=PreviewOut,
    errors=(404,),
)
async def preview_escalation_package(req: Req) -> PreviewOut:
    return await _preview(req, DocumentKind.ESCALATION_PACKAGE)
