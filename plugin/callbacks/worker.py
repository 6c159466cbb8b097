"""The background worker that processes stored callback events (being built)."""

from __future__ import annotations

from collections.abc import AsyncIterator


def callback_worker_ctx(services):
    async def ctx(app) -> AsyncIterator[None]:
        yield

    return ctx
