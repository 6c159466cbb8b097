"""Template parameters: their schema, the validation of supplied values, placeholders.

A template body names its parameters as `{{name}}` (spaces inside the braces allowed). The
schema declares each one; values supplied for a generation are checked against it here, and
`render.py` turns the checked values into quoted literals.

Value rules (one place, so the API, the pod and the renderer agree):
- string: a str of at most 4096 characters, with no control characters, no line or
  paragraph separators (a value must stay on one line whatever the language), and no
  invisible or bidirectional formatting characters (U+200B, U+202E, U+FEFF...: they would
  make what the engineer reads differ from what runs).
- name: a service, account or host name: a string of at most 256 characters that is not
  blank, has no surrounding spaces, no wildcard (`* ? [ ] %`: `*` as a service name would
  restart every service) and does not start with `-` or `/` (an option to a program).
- integer: an int (not a bool) or a decimal string such as "42" or "-3" (form fields send
  text); it must fit in a signed 64-bit integer. Floats are refused.
- boolean: True/False, or the strings "true"/"false" (any case).
- choice: a str that is exactly one of `choices`.
- A value of None, or "" for a non-string type, counts as not given. A required parameter
  that is not given (or given as "") is an error unless it has a default.
- An optional parameter that is not given takes its default; without a default an optional
  string becomes "" and an optional boolean false. An optional integer, choice or name must
  declare a default (there is no neutral value to render), which the schema enforces.

Error messages never repeat the offending value: it may be a password.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plugin.kernel.states import ScriptLanguage, values

Language = Literal["powershell", "bash", "cmd"]
LANGUAGES: tuple[str, ...] = values(ScriptLanguage)
ParameterType = Literal["string", "integer", "boolean", "choice", "name"]
# Types whose values render as quoted text.
TEXT_TYPES = ("string", "choice", "name")

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_STRING_LENGTH = 4096
MAX_NAME_LENGTH = 256
NAME_WILDCARDS = "*?[]%"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]+")

# `{{ name }}`: spaces or tabs allowed inside the braces, never a line break. Anything that
# is not an identifier between double braces (e.g. PowerShell's '{{0}}' -f escapes) is text.
PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")


class ParameterErrors(ValueError):
    """Bad parameters, by name: `errors` maps a parameter name to a human message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


def _unsafe_characters(text: str) -> bool:
    # Cc covers NUL, tab, CR, LF, ESC, NEL...; Zl/Zp are U+2028/U+2029 line/paragraph breaks.
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def _invisible_characters(text: str) -> bool:
    # Cf: zero-width spaces and joiners, bidi embeddings, overrides and isolates, the BOM,
    # soft hyphens; Cs: lone surrogates; Co: private use; Cn: unassigned.
    return any(unicodedata.category(ch) in ("Cf", "Cs", "Co", "Cn") for ch in text)


def _check_text(value: str) -> None:
    if len(value) > MAX_STRING_LENGTH:
        raise ValueError(f"must be at most {MAX_STRING_LENGTH} characters")
    if _unsafe_characters(value):
        raise ValueError("must not contain line breaks or control characters")
    if _invisible_characters(value):
        raise ValueError(
            "must not contain invisible or bidirectional formatting characters "
            "(they would hide what the script really does)"
        )


def _check_name(value: str) -> None:
    _check_text(value)
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters")
    if not value.strip() or value != value.strip():
        raise ValueError("must be a name without surrounding spaces")
    if any(ch in NAME_WILDCARDS for ch in value):
        raise ValueError(
            "must be one name, without wildcards (* ? [ ] %): a wildcard would act on "
            "every matching service, account or host"
        )
    if value.startswith(("-", "/")):
        raise ValueError("must not start with - or / (a program would read it as an option)")


def _coerce(type_: ParameterType, choices: list[str] | None, value: Any) -> Any:
    """The value in its canonical Python type, or ValueError with a message naming no value."""
    if type_ in ("string", "name"):
        if not isinstance(value, str):
            raise ValueError("must be text")
        (_check_name if type_ == "name" else _check_text)(value)
        return value
    if type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("must be a whole number")
        if isinstance(value, str):
            if not _DECIMAL.fullmatch(value):
                raise ValueError("must be a whole number")
            value = int(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError("is out of range for a 64-bit integer")
        return value
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("must be true or false")
    # choice
    if not isinstance(value, str) or value not in (choices or []):
        raise ValueError("must be one of the declared choices")
    return value


class ParameterSpec(BaseModel):
    """One declared template parameter (an item of a template's `parameters_schema`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    type: ParameterType
    required: bool = False
    default: Any = None
    choices: list[str] | None = None
    sensitive: bool = False
    description: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        if self.type == "choice":
            if not self.choices:
                raise ValueError("a choice parameter needs a non-empty list of choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("choices must not repeat")
            for choice in self.choices:
                try:
                    _check_text(choice)
                except ValueError as exc:
                    raise ValueError(f"each choice {exc}") from None
        elif self.choices:
            raise ValueError("choices only apply to a parameter of type choice")
        else:
            self.choices = None
        if self.default is not None and self.sensitive and self.type in ("string", "name"):
            # A default would be a secret at rest, shown to every engineer who reads it.
            raise ValueError("a sensitive parameter cannot have a default")
        if self.default is not None:
            try:
                self.default = _coerce(self.type, self.choices, self.default)
            except ValueError as exc:
                raise ValueError(f"default {exc}") from None
        elif not self.required and self.type in ("integer", "choice", "name"):
            raise ValueError(f"an optional {self.type} parameter needs a default")
        return self


def parse_schema(raw: Any) -> list[ParameterSpec]:
    """Parse a `parameters_schema` JSON value; ParameterErrors keyed by parameter name.

    An item without a usable name is keyed `parameters_schema[<index>]`. Messages come from
    the validation error's text only, never its input (a default may be a secret).
    """
    if not isinstance(raw, list):
        raise ParameterErrors({"parameters_schema": "must be a list of parameters"})
    specs: list[ParameterSpec] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        key = name if isinstance(name, str) and name else f"parameters_schema[{index}]"
        try:
            specs.append(ParameterSpec.model_validate(item))
        except ValidationError as exc:
            errors[key] = "; ".join(_error_text(err) for err in exc.errors())
    errors.update(_duplicate_errors(specs))
    if errors:
        raise ParameterErrors(errors)
    return specs


def _error_text(err: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in err.get("loc", ()))
    message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _duplicate_errors(schema: Iterable[ParameterSpec]) -> dict[str, str]:
    seen: set[str] = set()
    errors: dict[str, str] = {}
    for spec in schema:
        if spec.name in seen:
            errors[spec.name] = "declared more than once"
        seen.add(spec.name)
    return errors


def _not_given(spec: ParameterSpec, value: Any) -> bool:
    return value is None or (value == "" and (spec.required or spec.type != "string"))


def validate_parameters(values: Mapping[str, Any], schema: list[ParameterSpec]) -> dict[str, Any]:
    """Every declared parameter's value, coerced, defaults applied; else ParameterErrors.

    All problems are reported at once: a missing required parameter, a value of the wrong
    type or outside its choices, an unsafe or over-long string, and any supplied name the
    schema does not declare.
    """
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    declared = {spec.name for spec in schema}
    for name in values:
        if name not in declared:
            errors[str(name)] = "is not a parameter of this template"
    for spec in schema:
        value = values.get(spec.name)
        if _not_given(spec, value):
            if spec.default is not None:
                result[spec.name] = spec.default
            elif spec.required:
                errors[spec.name] = "is required"
            else:
                result[spec.name] = "" if spec.type == "string" else False
            continue
        try:
            result[spec.name] = _coerce(spec.type, spec.choices, value)
        except ValueError as exc:
            errors[spec.name] = str(exc)
    if errors:
        raise ParameterErrors(errors)
    return result


def placeholders(body: str) -> set[str]:
    """The parameter names the body refers to as `{{name}}`."""
    return {match.group(1) for match in PLACEHOLDER.finditer(body)}


def check_template(body: str, schema: list[ParameterSpec]) -> None:
    """ParameterErrors if the body uses an undeclared name or the schema repeats a name.

    A declared parameter the body does not use is allowed here (it is harmless); template
    extraction is stricter. The language-aware checks (where a placeholder may stand,
    whether defaults and choices can be quoted) are `render.validate_template`.
    """
    errors = _duplicate_errors(schema)
    declared = {spec.name for spec in schema}
    for name in sorted(placeholders(body) - declared):
        errors[name] = "used in the body but not declared"
    if errors:
        raise ParameterErrors(errors)
