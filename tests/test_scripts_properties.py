"""Property tests over hostile values, per language, rendering every shipped template.

bash: the rendered script runs in a stub sandbox (`env -i`, a temporary directory, PATH
holding only stubs that record their argv): no value breaks out, and each value reaches its
command as exactly one argument. PowerShell and cmd cannot run here (no pwsh on this machine),
so they are checked structurally: the rendered script, parsed by tree-sitter-powershell or by
the cmd tokenizer, runs the same commands as with harmless values, and a PowerShell value is
pure ASCII (no code page can turn it into a quote).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from plugin.features.scripts.parameters import ParameterErrors, parse_schema
from plugin.features.scripts.placement.cmd_tokens import statements
from plugin.features.scripts.placement.powershell import ascii_twin
from plugin.features.scripts.placement.treesitter import first_error, parse, text_of
from plugin.features.scripts.render import render_script

LIBRARY = json.loads(
    resources.files("plugin.features.scripts").joinpath("library.json").read_text("utf-8")
)
# Pieces of every injection the three shells know, plus ordinary text and non-ASCII letters.
HOSTILE_PIECES = [
    "'", '"', "`", "$", "$(pwn)", "`pwn`", "${IFS}", ";", "&", "&&", "|", "||", "<", ">", "(",
    ")", "{", "}", "[", "]", "*", "?", "~", "!", "#", "%", "%PATH%", "^", "\\", "@", ",", "=",
    " ", "\t", "-", "--", "/", ":", "\u2018", "\u2019", "\u201c", "\u201d", "\u00d1", "\u00e9",
    "\u20ac", "\u4e2d", "\U0001f600", "pwn", "calc", "x", "0", "a b",
]  # fmt: skip
hostile = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=12).map("".join)
SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _templates(language: str) -> list[dict]:
    return [t for t in LIBRARY if t["language"] == language and t["parameters_schema"]]


def _with_hostile_values(template: dict, value: str) -> dict:
    values = dict(template["example_values"])
    for spec in template["parameters_schema"]:
        if spec["type"] in ("string", "name"):
            values[spec["name"]] = value
    return values


def _render(template: dict, values: dict) -> str:
    schema = parse_schema(template["parameters_schema"])
    try:
        return render_script(template["body"], template["language"], schema, values)
    except ParameterErrors:
        assume(False)  # a value the parameter's type refuses never renders
        raise


# --- bash: run it ---------------------------------------------------------------------------

STUBS = {
    "id": "printf '0\\n'",
    "hostname": "printf 'host\\n'",
    "systemctl": "",
    "journalctl": "",
    "sleep": "",
    "sudo": "",
    "pwn": "",
    "calc": "",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sandbox")
    (root / "bin").mkdir()
    for name, body in STUBS.items():
        stub = root / "bin" / name
        # Each call appends its argv, NUL-separated, then a record separator.
        stub.write_text(
            '#!/bin/sh\nfor a in "${0##*/}" "$@"; do printf \'%s\\0\' "$a" >> "$LOG"; done\n'
            "printf '\\036' >> \"$LOG\"\n" + body + "\nexit 0\n"
        )
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return root


def _run(sandbox: Path, script: str) -> list[list[str]]:
    log = sandbox / "calls.log"
    log.write_bytes(b"")
    subprocess.run(
        ["/usr/bin/env", "-i", f"PATH={sandbox / 'bin'}", f"LOG={log}", "/bin/bash", "-c", script],
        cwd=sandbox,
        capture_output=True,
        timeout=20,
        check=True,
    )
    records = log.read_bytes().split(b"\x1e")
    return [[a.decode("utf-8") for a in r.split(b"\0")[:-1]] for r in records if r]


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="bash is not installed")
@pytest.mark.parametrize("template", _templates("bash"), ids=lambda t: t["slug"])
@SETTINGS
@given(value=hostile)
def test_bash_values_reach_their_command_as_one_argument(sandbox, template, value) -> None:
    values = _with_hostile_values(template, value)
    calls = _run(sandbox, _render(template, values))
    programs = {call[0] for call in calls}
    assert "pwn" not in programs and "calc" not in programs, calls
    assert programs <= set(STUBS)
    name = values["service_name"]
    systemctl = [c for c in calls if c[0] == "systemctl"]
    # cat, restart, is-active, status: each gets the name as its one last argument.
    assert [c[1] for c in systemctl] == ["cat", "restart", "is-active", "status"]
    for call in systemctl:
        assert call[-2:] == ["--", name]
        assert len(call) == {"cat": 4, "restart": 4, "is-active": 5, "status": 6}[call[1]]
    assert ["systemctl", "restart", "--", name] in calls


# --- PowerShell: parse it -------------------------------------------------------------------


def _powershell_commands(script: str) -> list[str]:
    root = parse("powershell", ascii_twin(script))  # the twin works around a grammar gap
    assert first_error(root) is None, script
    names, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.type == "command_name":
            names.append(text_of(node))
        stack.extend(reversed(node.children))
    return names


@pytest.mark.parametrize("template", _templates("powershell"), ids=lambda t: t["slug"])
@SETTINGS
@given(value=hostile)
def test_powershell_values_stay_one_ascii_argument(template, value) -> None:
    benign = _render(template, template["example_values"])
    rendered = _render(template, _with_hostile_values(template, value))
    assert rendered.isascii()
    assert _powershell_commands(rendered) == _powershell_commands(benign)
    assert rendered.count("\n") == benign.count("\n")


# --- cmd: tokenize it ---------------------------------------------------------------------


def _cmd_commands(script: str) -> list[tuple[str, int, bool]]:
    found = []
    for statement in statements(script, assigned=set()):
        for command in statement.commands:
            found.append((command.name, len(command.tokens), statement.piped))
    return found


@pytest.mark.parametrize("template", _templates("cmd"), ids=lambda t: t["slug"])
@SETTINGS
@given(value=hostile)
def test_cmd_values_stay_one_quoted_token(template, value) -> None:
    benign = _render(template, template["example_values"])
    rendered = _render(template, _with_hostile_values(template, value))
    assert _cmd_commands(rendered) == _cmd_commands(benign)
    for line in rendered.splitlines():
        assert line.count('"') % 2 == 0
    # Inside its quotes, with every % doubled so that phase 1 gives the value back.
    assert '"' + value.replace("%", "%%") + '"' in rendered


def test_the_sandbox_sees_a_breakout_when_there_is_one(sandbox) -> None:
    """The check above can fail: an unquoted value does run its payload in the sandbox."""
    calls = _run(sandbox, "name=x; $(echo pwn) now; systemctl restart -- $name")
    assert ["pwn", "now"] in calls


def test_stub_sandbox_has_nothing_else_on_its_path(sandbox) -> None:
    assert sorted(os.listdir(sandbox / "bin")) == sorted(STUBS)
    assert shutil.which("ls", path=str(sandbox / "bin")) is None
