"""Template extraction: turn a concrete script into a draft template with the LLM's help.

The model proposes a templated body and a parameter schema; nothing it says is trusted.
`check_round_trip` accepts the proposal only if every placeholder is declared, every declared
parameter is used, every placeholder stands where a quoted literal stays inert, and rendering
the template with the original values gives back the script character for character.
Anything else (an LLM error, an unparsable answer, a failed check) falls back to the script
itself with no parameters, which is still a usable draft.

Secrets never reach the model: the script is passed through `redact_text` first. When that
changed the script, the accepted template must also reproduce the real script: the values at
the placeholders are read back from it (`match_template`) and the parameters whose value was
a secret are marked sensitive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from plugin.features.scripts.parameters import (
    LANGUAGES,
    PLACEHOLDER,
    Language,
    ParameterErrors,
    ParameterSpec,
    ParameterType,
    placeholders,
    validate_parameters,
)
from plugin.features.scripts.render import render_script, validate_template
from plugin.kernel.redaction import SECRET_NAME, redact_text
from providers.llm.base import LLMError, LLMProvider, LLMRequest

EXTRACTION_KIND = "template_extraction"
MAX_SCRIPT_CHARS = 20_000  # larger scripts are not worth a model call: kept whole as a draft
_SPEC_FIELDS = ("name", "type", "required", "default", "choices", "sensitive", "description")

EXTRACTION_SYSTEM_PROMPT = """\
You turn a concrete script that an MSP engineer ran for one ticket into a reusable template.

Return ONLY a JSON object, no prose before or after it, of exactly this shape:
{"templated_body": "<the script with placeholders>",
 "parameters": [{"name": "user_name", "type": "string", "required": true, "default": null,
                 "choices": null, "sensitive": false,
                 "description": "sAMAccountName of the user to unlock",
                 "original_value": "jdoe"}]}

Rules:
1. Be conservative: prefer fewer parameters. Make a parameter only of a value an engineer
   would change from one ticket to the next: a user name, a computer or host name, a service
   name, a mailbox, a file or folder path, a password. Leave everything else exactly as it is.
   No parameters at all is a good answer for a script that needs none.
2. A placeholder is written {{name}}. The name starts with a letter and has only letters,
   digits and underscores (at most 64 characters). Every placeholder must be declared in
   "parameters" and every declared parameter must be used in the body. A value that appears
   several times is one parameter whose placeholder appears several times.
3. A placeholder replaces a WHOLE literal, including its quotes, exactly as the renderer
   writes that literal for the script's language:
   - powershell: a string in single quotes with each ' doubled ('O''Brien'); an integer as
     bare digits; a boolean as $true or $false.
   - bash: a string in single quotes with each ' written as '\\'' ; an integer as bare digits;
     a boolean as true or false.
   - cmd: a string in double quotes with each % doubled ("100%%"); an integer as bare digits;
     a boolean as 1 or 0.
   So only a value that already appears in the script in exactly that form can become a
   parameter. A value written another way (a bare word, a double-quoted PowerShell string,
   part of a longer string) stays as it is. Never put a placeholder inside a quoted string, a
   here-string, a heredoc or a comment, nor right after $, @, %, ! or an escape character.
4. Replacing every placeholder by its original_value written as in rule 3 must give back the
   original script character for character: keep all other text, spacing, comments and line
   breaks unchanged.
5. "original_value" is the value itself, without its quotes and unescaped (O'Brien, not
   'O''Brien'). For an integer give a JSON number, for a boolean true or false.
6. "type" is "string" unless the value is clearly an integer or a boolean written as in rule
   3; use "name" for the name of one service, account or host (a name admits no wildcard and
   no leading - or /); use "choice" with a "choices" list only when the script makes the
   allowed values obvious. A "name" parameter that is not required needs a default.
7. Mark "sensitive": true for anything that looks like a secret: a password, a key, a token, a
   connection string with credentials. A sensitive parameter has "default": null.
8. Secrets in the script have already been replaced by [REDACTED]. Where [REDACTED] is a whole
   quoted literal, make it a sensitive parameter whose original_value is "[REDACTED]".
9. "description" is one short sentence that tells an engineer what to enter.
"""


class ExtractionRejected(ValueError):
    """The model's proposal fails the round-trip check; `reason` says why (no values in it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ExtractionResult:
    templated_body: str
    parameters_schema: list[ParameterSpec]
    original_values: dict[str, Any]  # may hold secrets: redact_sensitive before showing
    fell_back: bool
    reason: str | None
    generator: str


def fallback_result(script: str, reason: str, generator: str) -> ExtractionResult:
    """The draft when extraction fails: the script itself, with no parameters."""
    return ExtractionResult(
        templated_body=script,
        parameters_schema=[],
        original_values={},
        fell_back=True,
        reason=reason,
        generator=generator,
    )


def build_extraction_messages(script: str, language: str) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": (
                f"Language: {language}\n\n"
                "Draft a template from this script. Answer with the JSON object only.\n\n"
                f"<script>\n{script}\n</script>"
            ),
        }
    ]


_FENCE = re.compile(r"```(?:json)?[ \t]*\r?\n(.*?)\r?\n?```", re.DOTALL | re.IGNORECASE)


def parse_extraction_answer(text: str) -> dict[str, Any]:
    """The model's JSON object (a ```json fence around it is tolerated); ValueError otherwise."""
    stripped = text.strip()
    fenced = _FENCE.fullmatch(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        answer = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not JSON ({exc.msg})") from None
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    if not isinstance(answer.get("templated_body"), str):
        raise ValueError("the answer has no templated_body string")
    if not isinstance(answer.get("parameters", []), list):
        raise ValueError("the answer's parameters is not a list")
    return answer


def _proposed_parameters(answer: dict[str, Any]) -> tuple[list[ParameterSpec], dict[str, Any]]:
    specs: list[ParameterSpec] = []
    originals: dict[str, Any] = {}
    items = answer.get("parameters", [])
    if not isinstance(items, list):
        raise ExtractionRejected("the parameters are not a list")
    for item in items:
        if not isinstance(item, dict):
            raise ExtractionRejected("a parameter is not a JSON object")
        if "original_value" not in item:
            raise ExtractionRejected(f"parameter {item.get('name')!r} has no original_value")
        fields = {key: item[key] for key in _SPEC_FIELDS if key in item}
        if fields.get("sensitive") or SECRET_NAME.search(str(fields.get("name", ""))):
            # A secret never becomes a template default; the engineer supplies it each time.
            fields.update(sensitive=True, default=None, required=True)
        try:
            spec = ParameterSpec.model_validate(fields)
        except ValidationError:
            raise ExtractionRejected("a parameter's declaration is invalid") from None
        specs.append(spec)
        originals[spec.name] = item["original_value"]
    return specs, originals


def check_round_trip(
    script: str, language: Language, answer: dict[str, Any], *, generator: str = "unknown"
) -> ExtractionResult:
    """Accept the model's answer for `script` or raise ExtractionRejected(reason)."""
    body = answer.get("templated_body")
    if not isinstance(body, str):
        raise ExtractionRejected("the answer has no templated_body string")
    specs, originals = _proposed_parameters(answer)
    declared = [spec.name for spec in specs]
    if len(set(declared)) != len(declared):
        raise ExtractionRejected("a parameter is declared more than once")
    if undeclared := placeholders(body) - set(declared):
        raise ExtractionRejected(f"placeholders not declared: {', '.join(sorted(undeclared))}")
    if unused := set(declared) - placeholders(body):
        raise ExtractionRejected(f"declared parameters not used: {', '.join(sorted(unused))}")
    try:
        validate_template(body, language, specs)
        values = validate_parameters(originals, specs)
        rendered = render_script(body, language, specs, values)
    except ParameterErrors as exc:
        raise ExtractionRejected(
            "the template does not render: " + ", ".join(sorted(exc.errors))
        ) from None
    if rendered != script:
        raise ExtractionRejected(
            f"rendering the template differs from the script {_where(rendered, script)}"
        )
    return ExtractionResult(
        templated_body=body,
        parameters_schema=specs,
        original_values=values,
        fell_back=False,
        reason=None,
        generator=generator,
    )


def _where(rendered: str, script: str) -> str:
    """Where two texts first differ, as a line number (never the text: it may be a secret)."""
    index = next(
        (i for i, (a, b) in enumerate(zip(rendered, script, strict=False)) if a != b),
        min(len(rendered), len(script)),
    )
    return f"from line {script.count(chr(10), 0, index) + 1}"


# --- reading values back from a script -----------------------------------------------------

# The renderer writes PowerShell strings in ASCII, with `'` doubled.
_PS_STRING = r"'(?:[^']|'')*'"
_LITERALS: dict[str, dict[str, str]] = {
    "powershell": {"string": _PS_STRING, "integer": r"-?[0-9]+", "boolean": r"\$(?:true|false)"},
    "bash": {"string": r"'[^']*'(?:\\''[^']*')*", "integer": r"-?[0-9]+", "boolean": "true|false"},
    "cmd": {"string": r'"[^"\r\n]*"', "integer": r"-?[0-9]+", "boolean": "1|0"},
}


def _unquote(literal: str, type_: ParameterType, language: str) -> Any:
    if type_ == "integer":
        return int(literal)
    if type_ == "boolean":
        return literal.lower() in ("$true", "true", "1")
    inner = literal[1:-1]
    if language == "powershell":
        return inner.replace("''", "'")
    if language == "bash":
        return inner.replace("'\\''", "'")
    return inner.replace("%%", "%")


def match_template(
    body: str, language: Language, schema: list[ParameterSpec], script: str
) -> dict[str, Any] | None:
    """The parameter values that render `body` into exactly `script`, or None."""
    types = {spec.name: spec.type for spec in schema}
    if not placeholders(body) <= set(types):
        return None
    pattern, seen, position = [], set(), 0
    for match in PLACEHOLDER.finditer(body):
        pattern.append(re.escape(body[position : match.start()]))
        name = match.group(1)
        literal_type = "string" if types[name] in ("choice", "name") else types[name]
        if name in seen:
            pattern.append(f"(?P={name})")
        else:
            pattern.append(f"(?P<{name}>{_LITERALS[language][literal_type]})")
            seen.add(name)
        position = match.end()
    pattern.append(re.escape(body[position:]))
    found = re.fullmatch("".join(pattern), script, re.DOTALL)
    if not found:
        return None
    values = {name: _unquote(found.group(name), types[name], language) for name in seen}
    try:
        if render_script(body, language, schema, values) != script:
            return None
    except ParameterErrors:
        return None
    return values


def _restore_secrets(
    extracted: ExtractionResult, script: str, language: Language
) -> ExtractionResult:
    """The result for the real script, given one accepted for its redacted form."""
    specs = extracted.parameters_schema
    values = match_template(extracted.templated_body, language, specs, script)
    if values is None:
        raise ExtractionRejected("the template does not reproduce the script's redacted parts")
    restored = [
        spec.model_copy(update={"sensitive": True, "default": None, "required": True})
        if values[spec.name] != extracted.original_values[spec.name]
        else spec
        for spec in specs
    ]
    return ExtractionResult(
        templated_body=extracted.templated_body,
        parameters_schema=restored,
        original_values=values,
        fell_back=False,
        reason=None,
        generator=extracted.generator,
    )


async def extract_template(llm: LLMProvider, script: str, language: str) -> ExtractionResult:
    """Draft a template from `script`; never raises for the model's failures (falls back)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown script language {language!r}")
    generator = llm.name
    if len(script) > MAX_SCRIPT_CHARS:
        return fallback_result(
            script, "the script is too long to extract a template from", generator
        )
    redacted = redact_text(script)
    request = LLMRequest(
        kind=EXTRACTION_KIND,
        system=EXTRACTION_SYSTEM_PROMPT,
        messages=build_extraction_messages(redacted, language),
        max_tokens=min(8192, 1024 + len(redacted)),
        json_output=True,
        context={"script": redacted, "language": language},
    )
    try:
        result = await llm.generate(request)
    except LLMError as exc:
        return fallback_result(script, f"the LLM failed ({type(exc).__name__})", generator)
    try:
        answer = parse_extraction_answer(result.text)
        extracted = check_round_trip(redacted, language, answer, generator=result.generator)
        if redacted != script:
            extracted = _restore_secrets(extracted, script, language)
    except ValueError as exc:  # unparsable answer or ExtractionRejected
        return fallback_result(script, str(exc), result.generator)
    return extracted
