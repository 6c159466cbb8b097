"""The holes issue 12's security review found around the quoting, each with its exact cases:
they fail on the hand-written scanner and pass with parser-based placement, ASCII-only
PowerShell values, the name type and the value guards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources

import pytest

from plugin.features.scripts.parameters import ParameterErrors, ParameterSpec, parse_schema
from plugin.features.scripts.placement import PS_DOUBLE_QUOTES, PS_SINGLE_QUOTES
from plugin.features.scripts.render import render_script, validate_template

LIBRARY = {
    t["slug"]: t
    for t in json.loads(
        resources.files("plugin.features.scripts").joinpath("library.json").read_text("utf-8")
    )
}
PS_QUOTES = set(PS_SINGLE_QUOTES + PS_DOUBLE_QUOTES)


def spec(name: str, type_: str = "string") -> ParameterSpec:
    return ParameterSpec(name=name, type=type_, required=True)


def refused(body: str, language: str, type_: str = "string") -> str:
    with pytest.raises(ParameterErrors) as caught:
        validate_template(body, language, [spec("v", type_)])
    return caught.value.errors.get("v") or caught.value.errors["body"]


# --- 1. Windows PowerShell 5.1 and non-ASCII values ---------------------------------------


def _quote_bytes() -> set[int]:
    """Bytes that cp1252 or cp437 decodes to a character PowerShell reads as a quote."""
    found = set()
    for byte in range(0x80, 0x100):
        for codec in ("cp1252", "cp437"):
            try:
                if bytes([byte]).decode(codec) in PS_QUOTES:
                    found.add(byte)
            except UnicodeDecodeError:
                pass
    return found


def _characters_with_quote_bytes() -> list[str]:
    quote_bytes = _quote_bytes()
    assert quote_bytes == {0x82, 0x84, 0x91, 0x92, 0x93, 0x94}
    chars = []
    for code in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        if quote_bytes & set(ch.encode("utf-8")):
            chars.append(ch)
    return chars


def test_the_reviews_values_cannot_close_a_powershell_string() -> None:
    schema = parse_schema(LIBRARY["unlock-ad-account"]["parameters_schema"])
    body = LIBRARY["unlock-ad-account"]["body"]
    for value in ("\u00d1; Start-Process calc; #", "PE\u00d1A"):
        rendered = render_script(body, "powershell", schema, {"user_name": value})
        assert rendered.isascii()
    rendered = render_script(body, "powershell", schema, {"user_name": "PE\u00d1A"})
    assert "$identity = $('PE' + [char]0x00D1 + 'A')\n" in rendered


def test_every_character_with_a_quote_byte_renders_as_ascii_that_no_code_page_changes() -> None:
    """Every character whose UTF-8 bytes hold a byte cp1252 or cp437 reads as a quote: as a
    value it renders in ASCII only, so the file reads the same in any of those code pages."""
    from plugin.features.scripts.parameters import validate_parameters

    schema = [spec("v")]
    accepted, refused_chars = [], []
    for ch in _characters_with_quote_bytes():
        try:
            validate_parameters({"v": ch}, schema)
            accepted.append(ch)
        except ParameterErrors:
            refused_chars.append(ch)  # invisible, private-use or unassigned: refused anyway
    assert len(accepted) > 20_000 and refused_chars  # unassigned code points are refused
    body = "$ErrorActionPreference = 'Stop'\nWrite-Output -InputObject {{v}}\n"
    for start in range(0, len(accepted), 4000):
        value = "".join(accepted[start : start + 4000])
        rendered = render_script(body, "powershell", schema, {"v": value})
        assert rendered.isascii()
        raw = rendered.encode("utf-8")
        assert raw.decode("cp1252") == raw.decode("cp437") == rendered
        # One argument: the value is a single $( ... ) of quoted ASCII pieces and [char] codes.
        line = rendered.splitlines()[1]
        assert line.startswith("Write-Output -InputObject $(") and line.endswith(")")


# --- 2. Positions where a quoted value still runs as code --------------------------------


@pytest.mark.parametrize(
    ("language", "body", "why"),
    [
        ("bash", "(( {{v}} > 0 ))", "arithmetic"),
        ("bash", "[[ {{v}} -eq 1 ]]", "arithmetic"),
        ("bash", "echo $(( {{v}} + 1 ))", "arithmetic"),
        ("bash", "let {{v}}", "arithmetic"),
        ("bash", "declare -i n={{v}}", "arithmetic"),
        ("bash", "arr[{{v}}]=1", "subscript"),
        ("bash", "read {{v}}", "variable names"),
        ("bash", "printf -v {{v}} '%s' x", "printf -v"),
        ("bash", "[[ -v {{v}} ]]", "variable name"),
        ("bash", "{{v}} --now", "command that runs"),
        ("bash", "sudo {{v}}", "runs a command"),
        ("bash", "eval {{v}}", "as code"),
        ("bash", "trap {{v}} EXIT", "as code"),
        ("powershell", "Invoke-Expression {{v}}", "invoke-expression"),
        ("powershell", "iex {{v}}", "iex"),
        ("powershell", "& {{v}}", "command that runs"),
        ("powershell", ". {{v}}", "command that runs"),
        ("powershell", "$sb = [scriptblock]::Create({{v}})", "Create"),
        ("powershell", "$ExecutionContext.InvokeCommand.ExpandString({{v}})", "ExpandString"),
        ("powershell", "powershell.exe -EncodedCommand {{v}}", "powershell"),
        ("powershell", "powershell -Command {{v}}", "powershell"),
        ("powershell", "Add-Type -TypeDefinition {{v}}", "add-type"),
        ("powershell", "$obj.{{v}}()", "member name"),
        ("powershell", "Start-Process notepad -ArgumentList {{v}}", "start-process"),
        ("powershell", "cmd.exe /c echo {{v}}", "cmd"),
        ("cmd", "call:label {{v}}", "second time"),
        ("cmd", "for /f %%i in ('type {{v}}') do echo %%i", "FOR"),
        ("cmd", "cmd /c echo {{v}}", "second time"),
        ("cmd", 'start "" notepad {{v}}', "second time"),
        ("cmd", "schtasks /create /tn x /tr {{v}}", "second time"),
        ("cmd", "echo {{v}} | findstr x", "pipe"),
    ],
)
def test_code_evaluating_positions_are_refused_with_the_line(language, body, why) -> None:
    problem = refused(("echo ok\n" if language != "powershell" else "Get-Date\n") + body, language)
    assert problem.startswith("line 2: ")
    assert why.lower() in problem.lower()


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("bash", "(( {{v}} > 0 ))"),
        ("bash", "[[ {{v}} -eq 1 ]]"),
        ("bash", "echo $(( {{v}} + 1 ))"),
        ("bash", "let n={{v}}"),
        ("bash", "declare -i n={{v}}"),
        ("cmd", "set /a n={{v}}+1"),
    ],
)
def test_integers_may_stand_in_arithmetic(language, body) -> None:
    validate_template(body, language, [spec("v", "integer")])


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("bash", "systemctl restart -- {{v}}\nname={{v}}\njournalctl --unit={{v}}"),
        ("powershell", "Restart-Service -Name {{v}}\n$n = {{v}}\ncmdkey /delete:{{v}}"),
        ("cmd", "cmdkey /delete:{{v}}\nset name={{v}}\nsc query {{v}}"),
    ],
)
def test_plain_arguments_assignments_and_option_prefixes_are_accepted(language, body) -> None:
    validate_template(body, language, [spec("v", "name")])


# --- 3. The checker could be fooled into thinking a placeholder is outside a string ---------


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("bash", "echo ${x:-'}{{v}}'}"),
        ("bash", 'echo "${x:-"}{{v}}"}"'),
        ("bash", 'x="$(case a in a) echo "{{v}}";; esac)"'),
        ("bash", "cat <<EOF\nhello\nEOF\r\necho {{v}}\nEOF\n"),
        ("powershell", '$x = @"\u00a0\na"b {{v}}\n"@'),
        ("powershell", '"${x"} {{v}} "'),
        ("cmd", 'echo %cd:"=% "{{v}}"'),
        ("cmd", 'set q="\necho %q% {{v}}'),
    ],
)
def test_the_tricks_that_fooled_the_scanner_are_refused(language, body) -> None:
    refused(body, language)


# --- 4. A leading dash becomes an option in bash --------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_leading_dash_is_refused_unless_the_template_has_double_dash() -> None:
    out = subprocess.run(["bash", "-c", "echo '-n'"], capture_output=True, text=True)
    assert out.stdout == ""  # what the review saw: the value became an option
    with pytest.raises(ParameterErrors) as caught:
        render_script("echo {{v}}", "bash", [spec("v")], {"v": "-n"})
    assert "option" in caught.value.errors["v"]
    script = render_script("printf -- '%s\\n' {{v}}", "bash", [spec("v")], {"v": "-n"})
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == "-n\n"
    assert "--" not in render_script("echo {{v}}", "bash", [spec("v")], {"v": "n"})


# --- 5. Wildcards with meaning ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "parameter"),
    [("restart-linux-service", "service_name"), ("restart-remote-service", "service_name")],
)
@pytest.mark.parametrize("wildcard", ["*", "ng*", "sp?oler", "[a-z]*", "%"])
def test_a_wildcard_service_name_is_refused(slug, parameter, wildcard) -> None:
    template = LIBRARY[slug]
    schema = parse_schema(template["parameters_schema"])
    values = {**template["example_values"], parameter: wildcard}
    with pytest.raises(ParameterErrors) as caught:
        render_script(template["body"], template["language"], schema, values)
    assert "wildcard" in caught.value.errors[parameter]


@pytest.mark.parametrize("value", ["-rf", "/delete", " spooler", ""])
def test_a_name_is_one_plain_name(value) -> None:
    with pytest.raises(ParameterErrors):
        render_script("Get-Service -Name {{v}}", "powershell", [spec("v", "name")], {"v": value})


# --- 7. Invisible characters ------------------------------------------------------------------


@pytest.mark.parametrize("ch", ["\u202e", "\u200b", "\ufeff", "\u2066", "\u200d", "\u00ad"])
@pytest.mark.parametrize("type_", ["string", "name"])
def test_invisible_and_bidi_characters_are_refused(ch, type_) -> None:
    with pytest.raises(ParameterErrors) as caught:
        render_script("Write-Output {{v}}", "powershell", [spec("v", type_)], {"v": f"ab{ch}c"})
    assert "invisible" in caught.value.errors["v"]
