"""The shipped template library (plugin/features/scripts/library.json) is complete, valid and renders."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from typing import Any

import pytest

from plugin.features.scripts.parameters import parse_schema
from plugin.features.scripts.render import render_script, validate_template
from plugin.features.scripts.service import high_findings
from plugin.kernel.redaction import REDACTED, redact_text

LIBRARY: list[dict[str, Any]] = json.loads(
    resources.files("plugin.features.scripts").joinpath("library.json").read_text(encoding="utf-8")
)
BY_SLUG = {template["slug"]: template for template in LIBRARY}
HOSTILE = "x'; Remove-Item -Recurse C:\\ # $(calc) `whoami` & del *"


class Unbalanced(Exception):
    pass


# --- a string-aware PowerShell balance checker ----------------------------------------------

_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def check_powershell_balance(text: str) -> None:
    """Raise Unbalanced unless quotes, here-strings, comments and brackets all close."""
    end = _code(text, 0, closer=None)
    assert end == len(text)


def _code(text: str, i: int, closer: str | None) -> int:
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "`":
            i += 2
        elif text.startswith("<#", i):
            i = _find(text, "#>", i + 2, "block comment") + 2
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n;({"):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif re.match(r"@(['\"])[ \t]*\n", text[i : i + 4]):
            i = _find(text, "\n" + text[i + 1] + "@", i + 2, "here-string") + 3
        elif ch == "'":
            i = _single_quoted(text, i + 1)
        elif ch == '"':
            i = _double_quoted(text, i + 1)
        elif text.startswith("${", i):
            i = _find(text, "}", i + 2, "braced variable") + 1
        elif ch in _CLOSERS:
            i = _code(text, i + 1, _CLOSERS[ch])
        elif ch in ")]}":
            if ch != closer:
                raise Unbalanced(f"unexpected {ch!r} at {i}")
            return i + 1
        else:
            i += 1
    if closer is not None:
        raise Unbalanced(f"missing {closer!r}")
    return n


def _find(text: str, needle: str, start: int, what: str) -> int:
    found = text.find(needle, start)
    if found < 0:
        raise Unbalanced(f"unterminated {what}")
    return found


def _single_quoted(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "'":
            if text.startswith("''", i):
                i += 2
                continue
            return i + 1
        i += 1
    raise Unbalanced("unterminated single-quoted string")


def _double_quoted(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "`" or text.startswith('""', i):
            i += 2
        elif text[i] == '"':
            return i + 1
        elif text.startswith("$(", i):
            i = _code(text, i + 2, ")")
        else:
            i += 1
    raise Unbalanced("unterminated double-quoted string")


@pytest.mark.parametrize(
    "text",
    [
        "Write-Host 'it''s",
        'Write-Host "a $(Get-Date "x") b',
        "if ($x) { Write-Host '}' ",
        "Get-X (1, 2]",
        "$x = @'\nnever closed\n",
        "<# never closed",
        "Get-X )",
    ],
)
def test_the_balance_checker_catches_broken_powershell(text) -> None:
    with pytest.raises(Unbalanced):
        check_powershell_balance(text)


def test_the_balance_checker_accepts_tricky_valid_powershell() -> None:
    check_powershell_balance(
        "# it's a comment (\n"
        "$a = 'it''s ) fine'; $b = \"x `\" $(Get-Date -f 'yyyy') ($a)\"\n"
        "$c = @'\nhere ' \" ( text\n'@\n"
        "<# ( ' #> Write-Output ${env:ProgramFiles(x86)} a#b { [int]'3' }\n"
    )


# --- the library ----------------------------------------------------------------------------


def test_the_library_covers_the_msp_fixes_it_promises() -> None:
    assert len(LIBRARY) >= 10
    assert len(BY_SLUG) == len(LIBRARY), "slugs must be unique"
    for slug in (
        "clear-stored-credential",
        "restart-print-spooler",
        "flush-dns-reset-winsock",
        "entra-connect-delta-sync",
        "reset-onedrive-sync",
        "rebuild-outlook-profile",
        "unlock-ad-account",
        "restart-remote-service",
        "reset-ad-password",
        "clear-teams-cache",
    ):
        assert slug in BY_SLUG
    languages = [template["language"] for template in LIBRARY]
    assert {"bash", "cmd"} <= set(languages)
    assert languages.count("powershell") >= 8


def test_the_fixes_use_the_right_commands() -> None:
    expectations = {
        "clear-stored-credential": ["cmdkey /delete:{{target}}"],
        "restart-print-spooler": [
            "Stop-Service -Name Spooler -Force",
            "System32\\spool\\PRINTERS",
            "Start-Service -Name Spooler",
        ],
        "flush-dns-reset-winsock": ["/flushdns", "winsock reset", "int ip reset"],
        "entra-connect-delta-sync": [
            "Invoke-Command -ComputerName",
            "Import-Module ADSync",
            "Start-ADSyncSyncCycle -PolicyType Delta",
        ],
        "reset-onedrive-sync": ["Microsoft\\OneDrive\\OneDrive.exe", "'/reset'"],
        "rebuild-outlook-profile": [
            "HKCU:\\Software\\Microsoft\\Office\\16.0\\Outlook",
            "'Profiles'",
            "-Name DefaultProfile",
        ],
        "unlock-ad-account": ["Import-Module ActiveDirectory", "Unlock-ADAccount -Identity"],
        "restart-remote-service": ["Invoke-Command -ComputerName", "Restart-Service", "-Force"],
        "reset-ad-password": [
            "Set-ADAccountPassword -Identity $identity -Reset -NewPassword",
            "ConvertTo-SecureString -String {{new_password}} -AsPlainText -Force",
            "-ChangePasswordAtLogon",
        ],
        "clear-teams-cache": ["MSTeams_8wekyb3d8bbwe", "Microsoft\\Teams"],
        "restart-linux-service": ["systemctl restart", "systemctl is-active"],
    }
    for slug, fragments in expectations.items():
        for fragment in fragments:
            assert fragment in BY_SLUG[slug]["body"], (slug, fragment)


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t["slug"])
def test_each_template_is_valid_and_renders_its_example(template) -> None:
    # `acknowledged_findings` is optional: the reviewed high-severity lint findings.
    assert set(template) - {"acknowledged_findings"} == {
        "slug",
        "version",
        "name",
        "description",
        "keywords",
        "language",
        "body",
        "parameters_schema",
        "example_values",
    }
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", template["slug"])
    assert template["name"] and template["description"] and template["keywords"]
    schema = parse_schema(template["parameters_schema"])
    body, language = template["body"], template["language"]
    validate_template(body, language, schema)
    assert all(spec.description for spec in schema)
    assert set(template["example_values"]) <= {spec.name for spec in schema}

    rendered = render_script(body, language, schema, template["example_values"])
    assert "{{" not in rendered and "}}" not in rendered
    # The body carries no secret of its own: redaction leaves it as it is.
    assert redact_text(body) == body

    if language == "powershell":
        assert "$ErrorActionPreference = 'Stop'" in body
        check_powershell_balance(rendered)
    if language == "bash":
        assert body.startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in body


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t["slug"])
def test_hostile_values_keep_each_template_intact(template) -> None:
    schema = parse_schema(template["parameters_schema"])
    values = dict(template["example_values"])
    for spec in schema:
        if spec.type == "string":
            values[spec.name] = HOSTILE
    rendered = render_script(template["body"], template["language"], schema, values)
    if template["language"] == "powershell":
        check_powershell_balance(rendered)
    if template["language"] == "bash" and shutil.which("bash"):
        subprocess.run(["bash", "-n", "-c", rendered], check=True, capture_output=True)
    if template["language"] == "cmd":
        for line in rendered.splitlines():
            assert line.count('"') % 2 == 0, line


def test_the_password_reset_template_keeps_its_password_secret() -> None:
    template = BY_SLUG["reset-ad-password"]
    schema = parse_schema(template["parameters_schema"])
    (password,) = [spec for spec in schema if spec.sensitive]
    assert password.name == "new_password" and password.required and password.default is None
    shown = render_script(
        template["body"], "powershell", schema, template["example_values"], redact_sensitive=True
    )
    assert template["example_values"]["new_password"] not in shown
    assert f"-String '{REDACTED}'" in shown


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_template_is_valid_bash() -> None:
    template = BY_SLUG["restart-linux-service"]
    schema = parse_schema(template["parameters_schema"])
    rendered = render_script(template["body"], "bash", schema, template["example_values"])
    subprocess.run(["bash", "-n", "-c", rendered], check=True, capture_output=True)
    assert "service_name='nginx'\nlog_lines=50\n" in rendered


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t["slug"])
def test_each_high_finding_of_the_library_was_reviewed_once(template) -> None:
    """Loading the library needs nobody: its file lists the findings its reviewer accepted,
    and nothing else (a stale acknowledgement would hide a new finding's review)."""
    high = {f.rule for f in high_findings(template["body"])}
    assert high == set(template.get("acknowledged_findings", []))


def test_service_account_and_host_parameters_are_names() -> None:
    names = {
        (template["slug"], spec["name"])
        for template in LIBRARY
        for spec in template["parameters_schema"]
        if spec["type"] == "name"
    }
    assert names == {
        ("entra-connect-delta-sync", "sync_server"),
        ("unlock-ad-account", "user_name"),
        ("restart-remote-service", "computer_name"),
        ("restart-remote-service", "service_name"),
        ("reset-ad-password", "user_name"),
        ("restart-linux-service", "service_name"),
    }
