"""Render a template: each value becomes one inert quoted literal of the script's language.

Quoting, per language:
- powershell: strings and choices in single quotes, every single-quote character doubled.
  PowerShell treats the typographic quotes ‘ ’ ‚ ‛ as single quotes too, so those are
  doubled as well (doubling a quote character yields that character). Nothing else is special
  inside single quotes. Integers are bare digits; booleans `$true` / `$false`.
- bash: strings in single quotes, each `'` written as `'\\''`. Nothing is special inside single
  quotes. Integers bare; booleans `true` / `false` (the commands, so `if {{flag}}; then` works).
- cmd (batch files): strings in double quotes, which make & | < > ( ) ^ literal. A value may not
  contain `"` (cmd has no escape for it inside quotes), and may not end with a backslash
  (programs would read `\\"` as an escaped quote). `%` is doubled, since percent expansion
  happens even inside quotes; this is right for batch files, which is what cmd templates are.
  `!` and `^` are left alone: they are literal inside quotes while delayed expansion is off,
  which is cmd's default, and a template that turns delayed expansion on is refused. Integers
  bare; booleans `1` / `0` (for `if {{flag}}==1`).

Quoting only keeps a value inert where the placeholder stands as code. `validate_template`
therefore refuses placeholders inside quoted strings, here-strings, heredocs, comments and
`${...}`, right after an escape character (which would escape the opening quote) or right
after `$ @ % !`, and in cmd on lines whose text cmd parses twice (CALL, FOR /F).

Known limits, for template authors: in bash, a string parameter must not be used where bash
evaluates arithmetic (`[[ $x -eq 1 ]]`, `$(( ))`): use an integer parameter there. In cmd, a
value inside a FOR loop body may have `%x` replaced by the loop variable.
"""

from __future__ import annotations

from typing import Any

from plugin.features.scripts.parameters import (
    LANGUAGES,
    PLACEHOLDER,
    Language,
    ParameterErrors,
    ParameterSpec,
    ParameterType,
    check_template,
    validate_parameters,
)
from plugin.features.scripts.placement import PS_SINGLE_QUOTES, unsafe_placeholders
from plugin.kernel.redaction import REDACTED


def quote_value(value: Any, type: ParameterType, language: Language, *, name: str = "value") -> str:
    """One validated value as a literal of `language`; ParameterErrors({name: ...}) if not."""
    if type == "integer":
        return str(int(value))
    if type == "boolean":
        return _BOOLEANS[language][bool(value)]
    text = str(value)
    if language == "powershell":
        return "'" + "".join(ch * 2 if ch in PS_SINGLE_QUOTES else ch for ch in text) + "'"
    if language == "bash":
        return "'" + text.replace("'", "'\\''") + "'"
    if language == "cmd":
        problem = _cmd_problem(text)
        if problem:
            raise ParameterErrors({name: problem})
        return '"' + text.replace("%", "%%") + '"'
    raise ValueError(f"unknown script language {language!r}")


_BOOLEANS: dict[str, dict[bool, str]] = {
    "powershell": {True: "$true", False: "$false"},
    "bash": {True: "true", False: "false"},
    "cmd": {True: "1", False: "0"},
}


def _cmd_problem(text: str) -> str | None:
    if '"' in text:
        return 'must not contain a double quote (") in a cmd script'
    if "\r" in text or "\n" in text:
        return "must not contain line breaks"
    if text.endswith("\\"):
        return "must not end with a backslash in a cmd script"
    return None


def validate_template(body: str, language: Language, schema: list[ParameterSpec]) -> None:
    """Everything that makes a template unrenderable or unsafe, as one ParameterErrors.

    Keys are parameter names (or "body" for a problem of the whole script): undeclared
    placeholders, repeated names, placeholders where a quoted literal would not stay inert,
    and defaults or choices the language cannot quote.
    """
    if language not in LANGUAGES:
        raise ParameterErrors({"language": f"must be one of {', '.join(LANGUAGES)}"})
    errors: dict[str, str] = {}
    try:
        check_template(body, schema)
    except ParameterErrors as exc:
        errors.update(exc.errors)
    for name, problem in unsafe_placeholders(body, language).items():
        errors.setdefault(name, problem)
    for spec in schema:
        candidates = list(spec.choices or [])
        if spec.default is not None:
            candidates.append(spec.default)
        for candidate in candidates:
            try:
                quote_value(candidate, spec.type, language, name=spec.name)
            except ParameterErrors as exc:
                errors.setdefault(spec.name, f"a default or choice {exc.errors[spec.name]}")
    if errors:
        raise ParameterErrors(errors)


def render_script(
    body: str,
    language: Language,
    schema: list[ParameterSpec],
    values: dict[str, Any],
    *,
    redact_sensitive: bool = False,
) -> str:
    """The script with every placeholder replaced by its quoted value.

    Validates the template and the values first (ParameterErrors naming each bad one). With
    `redact_sensitive`, sensitive parameters render as the quoted string '[REDACTED]' (after
    their real values were validated): the form that may be stored or shown.
    """
    validate_template(body, language, schema)
    checked = validate_parameters(values, schema)
    literals: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in schema:
        try:
            if redact_sensitive and spec.sensitive:
                literals[spec.name] = quote_value(REDACTED, "string", language, name=spec.name)
            else:
                literals[spec.name] = quote_value(
                    checked[spec.name], spec.type, language, name=spec.name
                )
        except ParameterErrors as exc:
            errors.update(exc.errors)
    if errors:
        raise ParameterErrors(errors)
    return PLACEHOLDER.sub(lambda match: literals[match.group(1)], body)
