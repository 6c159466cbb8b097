"""manifest.json: the one description of the plugin that the service and its tools read."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "manifest.json"


@cache
def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST_PATH.read_text())


@cache
def preferences_validator() -> Draft202012Validator:
    schema = manifest()["settings_schema"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def preference_errors(preferences: dict[str, Any]) -> dict[str, str]:
    """Field path → message for every schema violation (empty when valid)."""
    errors: dict[str, str] = {}
    for err in sorted(preferences_validator().iter_errors(preferences), key=lambda e: e.path):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties" and not path:
            extra = sorted(set(preferences) - set(err.schema.get("properties", {})))
            for name in extra:
                errors[name] = "is not a known preference"
            continue
        # A schema may word its own message ("x-error"): a regular expression is no help.
        message = err.schema.get("x-error", err.message) if isinstance(err.schema, dict) else None
        errors.setdefault(path or "preferences", message or err.message)
    return errors
