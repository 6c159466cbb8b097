"""The Script Builder's checks: a template being built, rendered with example values through
the same injection-safe renderer, and compared with the script it came from.

Sensitive parameters never need a value here: the preview renders them as '[REDACTED]' (a
stand-in passes validation first), and the round trip reads every value back from the
source script itself (`match_template`), so no secret travels with a preview request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin.features.scripts.extraction import match_template
from plugin.features.scripts.parameters import (
    Language,
    ParameterErrors,
    ParameterSpec,
    parse_schema,
)
from plugin.features.scripts.render import render_script, validate_template

# What a sensitive parameter is validated with before it renders as '[REDACTED]'.
_STAND_INS = {"string": "sample", "name": "sample", "integer": 0, "boolean": False}


@dataclass
class BuilderCheck:
    errors: dict[str, str] = field(default_factory=dict)
    preview: str | None = None
    round_trip: dict[str, Any] | None = None


def check_draft(
    body: str,
    language: Language,
    raw_schema: list[dict[str, Any]],
    examples: dict[str, Any],
    source_script: str | None,
) -> BuilderCheck:
    """Errors by field (`parameters.<name>`, `examples.<name>`, `body`), the preview when
    the template renders, and whether it gives back `source_script`."""
    result = BuilderCheck()
    try:
        schema = parse_schema(raw_schema)
        validate_template(body, language, schema)
    except ParameterErrors as exc:
        result.errors = {f"parameters.{k}": v for k, v in exc.errors.items()}
        return result
    values = _preview_values(schema, examples)
    try:
        result.preview = render_script(body, language, schema, values, redact_sensitive=True)
    except ParameterErrors as exc:
        result.errors = {f"examples.{k}": v for k, v in exc.errors.items()}
    if source_script is not None:
        result.round_trip = _round_trip(body, language, schema, source_script, result.preview)
    return result


def _preview_values(schema: list[ParameterSpec], examples: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for spec in schema:
        if spec.sensitive:
            values[spec.name] = spec.choices[0] if spec.choices else _STAND_INS[spec.type]
        elif examples.get(spec.name) not in (None, ""):
            values[spec.name] = examples[spec.name]
    return values


def _round_trip(
    body: str,
    language: Language,
    schema: list[ParameterSpec],
    source: str,
    preview: str | None,
) -> dict[str, Any]:
    if match_template(body, language, schema, source) is not None:
        return {
            "reproduces": True,
            "detail": "Rendering the template with the script's own values gives back the "
            "script exactly.",
        }
    where = first_difference(preview, source) if preview is not None else None
    return {
        "reproduces": False,
        "detail": "The template does not give back the script"
        + (f" (from line {where})" if where else "")
        + ": a value written another way (a bare word, another kind of quotes) becomes a "
        "quoted literal, or the text around a parameter changed.",
    }


def first_difference(rendered: str, script: str) -> int:
    """The line where two texts first differ (never the text: it may hold a secret)."""
    for number, (a, b) in enumerate(
        zip(rendered.splitlines(), script.splitlines(), strict=False), 1
    ):
        if a != b:
            return number
    return min(len(rendered.splitlines()), len(script.splitlines())) + 1
