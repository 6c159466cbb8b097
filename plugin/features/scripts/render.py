"""Render a template: each value becomes one inert literal of the script's language.

Quoting, per language:
- powershell: strings, names and choices in single quotes, every `'` doubled. A value with
  a non-ASCII character is written in ASCII only, as `$('PE' + [char]0x00D1 + 'A')`: Windows
  PowerShell 5.1 reads a script saved without a BOM in the ANSI code page, where a byte of a
  UTF-8 character can become a quote (Ñ is C3 91, and 0x91 is ‘ in cp1252), so no byte of
  a value may be above 0x7F. Integers are bare digits; booleans `$true` / `$false`.
- bash: strings in single quotes, each `'` written as `'\\''`. Nothing is special inside single
  quotes. Integers bare; booleans `true` / `false` (the commands, so `if {{flag}}; then` works).
- cmd (batch files): strings in double quotes, which make & | < > ( ) ^ literal. A value may not
  contain `"` (cmd has no escape for it inside quotes), and may not end with a backslash
  (programs would read `\\"` as an escaped quote). `%` is doubled, since percent expansion
  happens even inside quotes; this is right for batch files, which is what cmd templates are.
  `!` and `^` are left alone: they are literal inside quotes while delayed expansion is off,
  which is cmd's default, and a template that turns delayed expansion on is refused. Integers
  bare; booleans `1` / `0` (for `if {{flag}}==1`).

Quoting keeps a value inert only where a literal stands as data: `validate_template` checks
where each placeholder stands with the language's parser (see `placement`), and the place may
restrict the value further (no leading `-` in bash without `--`, no `"` for a native program
in PowerShell).
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
from plugin.features.scripts.placement import Guard, Placement, check_placement
from plugin.kernel.redaction import REDACTED


def quote_value(value: Any, type: ParameterType, language: Language, *, name: str = "value") -> str:
    """One validated value as a literal of `language`; ParameterErrors({name: ...}) if not."""
    if type == "integer":
        return str(int(value))
    if type == "boolean":
        return _BOOLEANS[language][bool(value)]
    text = str(value)
    if language == "powershell":
        return powershell_string(text)
    if language == "bash":
        return "'" + text.replace("'", "'\\''") + "'"
    if language == "cmd":
        problem = _cmd_problem(text)
        if problem:
            raise ParameterErrors({name: problem})
        return '"' + text.replace("%", "%%") + '"'
    raise ValueError(f"unknown script language {language!r}")


def powershell_string(text: str) -> str:
    """`text` as a PowerShell expression of ASCII characters only."""
    if text.isascii():
        return "'" + text.replace("'", "''") + "'"
    pieces: list[str] = []
    run: list[str] = []
    for ch in text:
        if ch.isascii():
            run.append(ch)
            continue
        if run or not pieces:  # a string first, so that + joins text rather than adds numbers
            pieces.append("'" + "".join(run).replace("'", "''") + "'")
            run = []
        units = ch.encode("utf-16-le")
        pieces.extend(
            f"[char]0x{int.from_bytes(units[i : i + 2], 'little'):04X}"
            for i in range(0, len(units), 2)
        )
    if run:
        pieces.append("'" + "".join(run).replace("'", "''") + "'")
    return "$(" + " + ".join(pieces) + ")"


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


def guard_problem(value: Any, type_: ParameterType, guards: set[Guard]) -> str | None:
    """Why a value may not stand where its placeholder stands, or None."""
    text = str(value) if type_ != "boolean" else ""
    if Guard.NO_LEADING_DASH in guards and text.startswith("-"):
        return (
            "must not start with - here: bash would read it as an option "
            "(the template has no -- before it)"
        )
    if Guard.NATIVE_ARGUMENT in guards and ('"' in text or text.endswith("\\")):
        return (
            'must not contain " or end with a backslash here: Windows PowerShell passes it '
            "to a program without escaping, which would split it into several arguments"
        )
    return None


def validate_template(body: str, language: Language, schema: list[ParameterSpec]) -> Placement:
    """Everything that makes a template unrenderable or unsafe, as one ParameterErrors.

    Keys are parameter names (or "body" for a problem of the whole script): undeclared
    placeholders, repeated names, placeholders where a quoted literal would not stay inert,
    and defaults or choices the language cannot quote or their place refuses. Returns where
    the placeholders stand (the guards their values must pass).
    """
    if language not in LANGUAGES:
        raise ParameterErrors({"language": f"must be one of {', '.join(LANGUAGES)}"})
    errors: dict[str, str] = {}
    try:
        check_template(body, schema)
    except ParameterErrors as exc:
        errors.update(exc.errors)
    placement = check_placement(body, language, {spec.name: spec.type for spec in schema})
    for name, problem in placement.problems.items():
        errors.setdefault(name, problem)
    for spec in schema:
        candidates = list(spec.choices or [])
        if spec.default is not None:
            candidates.append(spec.default)
        for candidate in candidates:
            problem = guard_problem(candidate, spec.type, placement.guards.get(spec.name, set()))
            try:
                quote_value(candidate, spec.type, language, name=spec.name)
            except ParameterErrors as exc:
                problem = exc.errors[spec.name]
            if problem:
                errors.setdefault(spec.name, f"a default or choice {problem}")
    if errors:
        raise ParameterErrors(errors)
    return placement


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
    placement = validate_template(body, language, schema)
    checked = validate_parameters(values, schema)
    literals: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in schema:
        guards = placement.guards.get(spec.name, set())
        problem = guard_problem(checked[spec.name], spec.type, guards)
        if problem:
            errors[spec.name] = problem
            continue
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
