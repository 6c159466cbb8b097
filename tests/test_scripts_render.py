"""Parameters, placeholders and injection-safe rendering (plugin/scripts/parameters, render)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from plugin.features.scripts.parameters import (
    MAX_STRING_LENGTH,
    ParameterErrors,
    ParameterSpec,
    check_template,
    parse_schema,
    placeholders,
    validate_parameters,
)
from plugin.features.scripts.placement import check_placement
from plugin.features.scripts.render import (
    quote_value,
    render_script,
    validate_template,
)


def unsafe_placeholders(body: str, language: str) -> dict[str, str]:
    return check_placement(body, language).problems


def spec(name: str, type_: str = "string", **fields) -> ParameterSpec:
    return ParameterSpec(name=name, type=type_, **fields)


# --- ParameterSpec and parse_schema ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "1abc", "type": "string"}, "String should match pattern"),
        ({"name": "a-b", "type": "string"}, "String should match pattern"),
        ({"name": "x" * 65, "type": "string"}, "String should match pattern"),
        ({"name": "mode", "type": "choice", "default": "a"}, "non-empty list of choices"),
        ({"name": "mode", "type": "choice", "choices": ["a", "a"], "default": "a"}, "repeat"),
        ({"name": "mode", "type": "choice", "choices": ["a"], "default": "b"}, "default must be"),
        ({"name": "n", "type": "integer", "default": "ten"}, "default must be a whole number"),
        ({"name": "n", "type": "integer"}, "optional integer parameter needs a default"),
        ({"name": "flag", "type": "boolean", "default": "yes"}, "default must be true or false"),
        ({"name": "s", "type": "string", "choices": ["a"]}, "only apply to a parameter of type"),
        ({"name": "s", "type": "string", "default": "a\nb"}, "line breaks"),
        ({"name": "s", "type": "string", "colour": "red"}, "Extra inputs"),
    ],
)
def test_parameter_spec_rejects_inconsistent_declarations(fields, message) -> None:
    with pytest.raises(ParameterErrors) as caught:
        parse_schema([fields])
    assert message in " ".join(caught.value.errors.values())


def test_parameter_spec_coerces_its_default() -> None:
    assert spec("n", "integer", default="42").default == 42
    assert spec("b", "boolean", default="TRUE").default is True
    assert spec("m", "choice", choices=["x", "y"], required=True).choices == ["x", "y"]
    assert spec("s", choices=[]).choices is None


def test_parse_schema_keys_errors_by_name_or_index_and_never_echoes_values() -> None:
    raw = [
        {"name": "ok", "type": "string"},
        {"name": "secret", "type": "integer", "default": "hunter2-password"},
        {"type": "string"},
        {"name": "ok", "type": "boolean"},
    ]
    with pytest.raises(ParameterErrors) as caught:
        parse_schema(raw)
    errors = caught.value.errors
    assert set(errors) == {"secret", "parameters_schema[2]", "ok"}
    assert errors["ok"] == "declared more than once"
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ParameterErrors):
        parse_schema({"name": "x"})


# --- validate_parameters --------------------------------------------------------------------


SCHEMA = [
    spec("user", required=True),
    spec("count", "integer", default=3),
    spec("force", "boolean", default=False),
    spec("mode", "choice", choices=["fast", "safe"], default="safe"),
    spec("note"),
    spec("again", "boolean"),
]


def test_validate_parameters_coerces_and_applies_defaults() -> None:
    assert validate_parameters({"user": "jdoe"}, SCHEMA) == {
        "user": "jdoe",
        "count": 3,
        "force": False,
        "mode": "safe",
        "note": "",
        "again": False,
    }
    values = validate_parameters(
        {"user": "jdoe", "count": "-42", "force": "True", "mode": "fast", "note": ""}, SCHEMA
    )
    assert values["count"] == -42
    assert values["force"] is True
    assert values["mode"] == "fast"
    # "" for a non-string type and None count as not given: the default applies.
    assert validate_parameters({"user": "x", "count": "", "force": None}, SCHEMA)["count"] == 3


def test_validate_parameters_names_each_bad_parameter() -> None:
    with pytest.raises(ParameterErrors) as caught:
        validate_parameters(
            {
                "count": "4.5",
                "force": 1,
                "mode": "FAST",
                "note": "line one\nline two",
                "again": "yes",
                "surprise": "x",
            },
            SCHEMA,
        )
    assert caught.value.errors == {
        "user": "is required",
        "count": "must be a whole number",
        "force": "must be true or false",
        "mode": "must be one of the declared choices",
        "note": "must not contain line breaks or control characters",
        "again": "must be true or false",
        "surprise": "is not a parameter of this template",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is required"),
        (42, "must be text"),
        ("tab\there", "control characters"),
        ("nul\x00", "control characters"),
        ("line\u2028separator", "control characters"),
        ("x" * (MAX_STRING_LENGTH + 1), f"at most {MAX_STRING_LENGTH} characters"),
    ],
)
def test_validate_parameters_rejects_bad_strings(value, message) -> None:
    with pytest.raises(ParameterErrors) as caught:
        validate_parameters({"user": value}, SCHEMA)
    assert message in caught.value.errors["user"]


def test_validate_parameters_accepts_the_longest_string_and_rejects_huge_integers() -> None:
    assert validate_parameters({"user": "x" * MAX_STRING_LENGTH}, SCHEMA)["user"]
    with pytest.raises(ParameterErrors) as caught:
        validate_parameters({"user": "x", "count": 2**63}, SCHEMA)
    assert "out of range" in caught.value.errors["count"]
    with pytest.raises(ParameterErrors):
        validate_parameters({"user": "x", "count": True}, SCHEMA)


# --- placeholders and check_template --------------------------------------------------------


def test_placeholders_allow_spaces_but_not_line_breaks_or_non_identifiers() -> None:
    body = "a {{user}} b {{ user }} c {{\tcount }} d {{\nnope}} e '{{0}}' -f 1 {{a-b}}"
    assert placeholders(body) == {"user", "count"}


def test_check_template_reports_undeclared_placeholders_and_duplicate_names() -> None:
    check_template("Unlock {{ user }}", [spec("user"), spec("unused")])
    with pytest.raises(ParameterErrors) as caught:
        check_template("{{user}} {{host}} {{ port }}", [spec("user"), spec("user", "boolean")])
    assert caught.value.errors == {
        "user": "declared more than once",
        "host": "used in the body but not declared",
        "port": "used in the body but not declared",
    }


# --- quoting --------------------------------------------------------------------------------

INJECTIONS = [
    "x'; Remove-Item -Recurse C:\\ #",
    "$(rm -rf /)",
    "`whoami`",
    "a & del C:\\*",
    "%PATH%",
    "\u2019; calc; \u2018",
]

EXPECTED = {
    "powershell": [
        "'x''; Remove-Item -Recurse C:\\ #'",
        "'$(rm -rf /)'",
        "'`whoami`'",
        "'a & del C:\\*'",
        "'%PATH%'",
        "$('' + [char]0x2019 + '; calc; ' + [char]0x2018)",
    ],
    "bash": [
        "'x'\\''; Remove-Item -Recurse C:\\ #'",
        "'$(rm -rf /)'",
        "'`whoami`'",
        "'a & del C:\\*'",
        "'%PATH%'",
        "'\u2019; calc; \u2018'",
    ],
    "cmd": [
        '"x\'; Remove-Item -Recurse C:\\ #"',
        '"$(rm -rf /)"',
        '"`whoami`"',
        '"a & del C:\\*"',
        '"%%PATH%%"',
        '"\u2019; calc; \u2018"',
    ],
}


@pytest.mark.parametrize("language", ["powershell", "bash", "cmd"])
def test_injection_values_render_as_single_inert_literals(language) -> None:
    schema = [spec("value", required=True)]
    for value, expected in zip(INJECTIONS, EXPECTED[language], strict=True):
        rendered = render_script("Write {{value}} end", language, schema, {"value": value})
        assert rendered == f"Write {expected} end"


def test_powershell_writes_values_in_ascii_with_each_quote_doubled() -> None:
    assert quote_value("a'b\u2018c\u2019d\u201ae\u201bf", "string", "powershell") == (
        "$('a''b' + [char]0x2018 + 'c' + [char]0x2019 + 'd' + [char]0x201A + 'e'"
        " + [char]0x201B + 'f')"
    )
    # Double quotes and $ are inert inside single quotes: left as they are.
    assert quote_value('say "$env:X"', "string", "powershell") == "'say \"$env:X\"'"


@pytest.mark.parametrize(
    ("language", "type_", "value", "expected"),
    [
        ("powershell", "integer", -7, "-7"),
        ("powershell", "boolean", True, "$true"),
        ("powershell", "boolean", False, "$false"),
        ("powershell", "choice", "Delta", "'Delta'"),
        ("bash", "integer", 50, "50"),
        ("bash", "boolean", True, "true"),
        ("bash", "boolean", False, "false"),
        ("bash", "string", "", "''"),
        ("cmd", "integer", 0, "0"),
        ("cmd", "boolean", True, "1"),
        ("cmd", "boolean", False, "0"),
        ("cmd", "string", "50% off! ^caret <in> |pipe|", '"50%% off! ^caret <in> |pipe|"'),
    ],
)
def test_quote_value_per_type_and_language(language, type_, value, expected) -> None:
    assert quote_value(value, type_, language) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('say "hi"', "double quote"),
        ("C:\\Temp\\", "backslash"),
        ("two\r\nlines", "line breaks"),
    ],
)
def test_cmd_refuses_values_it_cannot_quote(value, message) -> None:
    with pytest.raises(ParameterErrors) as caught:
        quote_value(value, "string", "cmd", name="path")
    assert message in caught.value.errors["path"]
    with pytest.raises(ParameterErrors) as caught:
        render_script("dir {{path}}", "cmd", [spec("path", required=True)], {"path": value})
    assert "path" in caught.value.errors


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_prints_each_hostile_value_back_verbatim() -> None:
    schema = [spec("value", required=True)]
    hostile = [*INJECTIONS, "it's", "'", "''", "\\'", "a\\b", "!x", "$HOME", "*", "~"]
    for value in hostile:
        script = render_script("printf '%s' {{value}}", "bash", schema, {"value": value})
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
        assert out.stdout == value


# --- render_script --------------------------------------------------------------------------


def test_render_script_validates_then_substitutes_every_occurrence() -> None:
    schema = [
        spec("user", required=True),
        spec("password", sensitive=True, required=True),
        spec("force", "boolean", default=True),
    ]
    body = "Reset {{user}} {{ password }} -Force:{{force}}; Log {{user}}"
    values = {"user": "o'brien", "password": "S3cret!"}
    assert render_script(body, "powershell", schema, values) == (
        "Reset 'o''brien' 'S3cret!' -Force:$true; Log 'o''brien'"
    )
    assert render_script(body, "powershell", schema, values, redact_sensitive=True) == (
        "Reset 'o''brien' '[REDACTED]' -Force:$true; Log 'o''brien'"
    )
    with pytest.raises(ParameterErrors) as caught:
        render_script(body, "powershell", schema, {"user": "x"}, redact_sensitive=True)
    assert caught.value.errors == {"password": "is required"}


def test_render_script_refuses_undeclared_placeholders() -> None:
    with pytest.raises(ParameterErrors) as caught:
        render_script("Restart {{service}} on {{host}}", "powershell", [spec("service")], {})
    assert caught.value.errors == {"host": "used in the body but not declared"}


# --- where placeholders may stand -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "body", "problems"),
    [
        # PowerShell: strings, here-strings, comments, escapes, braced variables, stop-parsing.
        ("powershell", 'Write-Host "Hello {{a}}"', {"a": "quoted string"}),
        ("powershell", "Write-Host 'Hello {{a}}'", {"a": "quoted string"}),
        ("powershell", "Write-Host \u2018{{a}}\u2019", {"a": "quoted string"}),
        ("powershell", '"$(Get-Item {{a}})"', {"a": "quoted string"}),
        ("powershell", '$x = @"\n{{a}}\n"@\n{{b}}', {"a": "quoted string"}),
        ("powershell", "$x = @'\n{{a}}\n'@", {"a": "quoted string"}),
        ("powershell", "Get-X # {{a}}\n{{b}}", {"a": "comment"}),
        ("powershell", "<# {{a}}\n #> {{b}}", {"a": "comment"}),
        ("powershell", "Write-Host `{{a}}", {"a": "escape"}),
        ("powershell", "${{a}} @{{b}}", {"a": "follow $", "b": "follow $"}),
        ("powershell", "${ {{a}} }", {"a": "variable name"}),
        ("powershell", "cmdkey --% /delete:{{a}}\n{{b}}", {"a": "--%"}),
        # bash: quotes, ANSI-C strings, backticks, ${...}, heredocs, comments, escapes.
        ("bash", 'echo "{{a}}"', {"a": "quoted string"}),
        ("bash", "echo '{{a}}'", {"a": "quoted string"}),
        ("bash", "echo $'{{a}}'", {"a": "quoted string"}),
        ("bash", "echo `ls {{a}}`", {"a": "backquote"}),
        ("bash", "echo ${x:-{{a}}}", {"a": "${...}"}),
        ("bash", "cat <<EOF\n{{a}}\nEOF\necho {{b}}", {"a": "quoted string"}),
        ("bash", "cat <<-'END'\n\t{{a}}\n\tEND\necho {{b}}", {"a": "quoted string"}),
        ("bash", "echo ok # {{a}}\necho {{b}}", {"a": "comment"}),
        ("bash", "echo \\{{a}}", {"a": "escape"}),
        ("bash", "echo ${{a}}", {"a": "follow $"}),
        # cmd: quotes, carets, %/! glue, comments, lines parsed twice, delayed expansion.
        ("cmd", 'echo "{{a}}"', {"a": "quoted string"}),
        ("cmd", "echo ^{{a}}", {"a": "escape"}),
        ("cmd", "echo %{{a}}% !{{b}}!", {"a": "follow %", "b": "follow %"}),
        (
            "cmd",
            "rem {{a}}\n:: {{b}}\n@REM {{c}}",
            {"a": "comment", "b": "comment", "c": "comment"},
        ),
        (
            "cmd",
            "call :sub {{a}}\nfor /f %%i in ('type {{b}}') do echo %%i",
            {"a": "second time", "b": "FOR statement"},
        ),
        ("cmd", "setlocal EnableDelayedExpansion\necho {{a}}", {"body": "delayed expansion"}),
    ],
)
def test_placeholders_where_a_literal_would_not_stay_inert_are_refused(
    language, body, problems
) -> None:
    found = unsafe_placeholders(body, language)
    assert set(found) == set(problems)
    for name, fragment in problems.items():
        assert fragment in found[name]


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("powershell", "$user = {{a}}\nGet-ADUser -Identity {{a}} -Properties 'LockedOut'"),
        ("powershell", "Invoke-Command -ScriptBlock { Restart-Service -Name {{a}} } # done"),
        ("powershell", "Write-Host \"it's $(1 + 1)\" {{a}} 'x''y' {{a}}"),
        ("powershell", "$x = @'\nhere ' text\n'@\nRestart-Service {{a}}"),
        ("powershell", "if ({{a}}) { 'a#b' }; Write-Output a#b {{a}}"),
        ("bash", 'name={{a}}\necho "$name" $(id -u {{a}}) "it\'s" {{a}}'),
        ("bash", "cat <<EOF\ntext\nEOF\nsystemctl restart -- {{a}}"),
        ("bash", 'echo a#b {{a}}; [ -n "$x" ] && echo {{a}}'),
        ("cmd", 'echo "quoted" {{a}}\nrem note\ncmdkey /delete:{{a}}'),
        ("cmd", "if {{a}}==1 (echo yes) else (echo no)"),
    ],
)
def test_placeholders_standing_as_code_are_accepted(language, body) -> None:
    assert unsafe_placeholders(body, language) == {}


def test_validate_template_checks_defaults_and_choices_for_the_language() -> None:
    schema = [
        spec("path", default="C:\\Temp\\"),
        spec("mode", "choice", choices=['say "hi"', "b"], default="b"),
    ]
    validate_template("dir {{path}} {{mode}}", "powershell", schema)
    with pytest.raises(ParameterErrors) as caught:
        validate_template("dir {{path}} {{mode}}", "cmd", schema)
    assert set(caught.value.errors) == {"path", "mode"}
    with pytest.raises(ParameterErrors) as caught:
        validate_template("x", "fish", [])
    assert "language" in caught.value.errors


def test_render_script_refuses_an_unsafe_template() -> None:
    with pytest.raises(ParameterErrors) as caught:
        render_script('Write-Host "{{name}}"', "powershell", [spec("name")], {"name": "$(calc)"})
    assert "quoted string" in caught.value.errors["name"]
