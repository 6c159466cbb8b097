"""Sensitive parameter values and the session's secret memory: a value may be a pasted
secret chosen by reference (`{"secret_ref": 12}`, resolved here, never seen by the LLM or the
browser again), and a sensitive value typed in is remembered, so it is scrubbed from every
later output of the session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plugin.kernel.errors import Unprocessable
from plugin.kernel.secret_memory import Caught, SecretBox, pasted_value, remember


def _is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secret_ref"}


async def resolve_secret_values(
    tx: AsyncSession,
    box: SecretBox,
    schema: list[dict[str, Any]],
    values: dict[str, Any],
    ai_session_id: int | None,
) -> dict[str, Any]:
    sensitive = {spec["name"] for spec in schema if spec.get("sensitive")}
    resolved = dict(values)
    for name, value in values.items():
        if not _is_ref(value):
            continue
        field = f"parameters.{name}"
        if name not in sensitive:
            raise Unprocessable(
                "A pasted secret can fill only a sensitive parameter.",
                details={"fields": {field: "not a sensitive parameter"}},
            )
        if ai_session_id is None:
            raise Unprocessable(
                "A pasted secret belongs to a session: give ai_session_id.",
                details={"fields": {"ai_session_id": "required with secret_ref"}},
            )
        try:
            resolved[name] = await pasted_value(tx, box, ai_session_id, int(value["secret_ref"]))
        except (KeyError, TypeError, ValueError):
            raise Unprocessable(
                "The session has no such secret.",
                details={"fields": {field: "unknown secret_ref"}},
            ) from None
    if ai_session_id is not None:
        typed = [
            Caught(str(resolved[name]), "password")
            for name in sensitive
            if name in values and not _is_ref(values[name]) and resolved.get(name) is not None
        ]
        await remember(tx, box, ai_session_id, typed, source="parameter")
    return resolved
