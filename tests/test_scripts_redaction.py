"""Redaction by schema, by known value and by pattern (plugin/scripts/redaction)."""

from __future__ import annotations

import base64

import pytest

from plugin.features.scripts.parameters import ParameterSpec
from plugin.features.scripts.render import render_script
from plugin.kernel.redaction import REDACTED, redact_sensitive, redact_text, redact_values

# --- redact_sensitive -----------------------------------------------------------------------


def test_redact_sensitive_uses_the_schema_and_secret_looking_names() -> None:
    schema = [
        ParameterSpec(name="user", type="string", required=True),
        ParameterSpec(name="pin", type="integer", sensitive=True, required=True),
        ParameterSpec(name="new_password", type="string", required=True),  # flag forgotten
    ]
    parameters = {"user": "jdoe", "pin": 1234, "new_password": "S3cret!", "api_key": None}
    assert redact_sensitive(parameters, schema) == {
        "user": "jdoe",
        "pin": REDACTED,
        "new_password": REDACTED,
        "api_key": None,
    }
    assert parameters["pin"] == 1234  # a copy: the input is untouched


def test_redact_sensitive_accepts_the_stored_json_schema() -> None:
    schema = [{"name": "code", "type": "string", "sensitive": True}, {"name": "host"}]
    assert redact_sensitive({"code": "abcd", "host": "srv01"}, schema) == {
        "code": REDACTED,
        "host": "srv01",
    }


# --- redact_values --------------------------------------------------------------------------


def test_redact_values_finds_secrets_in_their_rendered_forms() -> None:
    secret = "it's 100%"
    schema = [ParameterSpec(name="p", type="string", required=True, sensitive=True)]
    for language, quoted in [
        ("powershell", "'it''s 100%'"),
        ("bash", "'it'\\''s 100%'"),
        ("cmd", '"it\'s 100%%"'),
    ]:
        rendered = render_script("run {{p}}", language, schema, {"p": secret})
        assert rendered == f"run {quoted}"
        assert redact_values(rendered, [secret]) == f"run {quoted[0]}{REDACTED}{quoted[-1]}"
    assert redact_values('{"p": "say \\"hi\\" now"}', ['say "hi" now']) == '{"p": "[REDACTED]"}'


def test_redact_values_longest_first_skips_short_and_non_secrets() -> None:
    text = "token abcd1234 and abcd and 42 and true"
    assert redact_values(text, ["abcd", "abcd1234", "42", True, None]) == (
        "token [REDACTED] and [REDACTED] and 42 and true"
    )
    assert redact_values(text, []) == text
    # Idempotent, even for a secret that is part of the marker.
    once = redact_values(text, ["abcd", "DACT"])
    assert redact_values(once, ["abcd", "DACT"]) == once


def test_redact_values_handles_integers() -> None:
    assert redact_values("pin 987654 set", [987654]) == "pin [REDACTED] set"


# --- redact_text: every pattern -------------------------------------------------------------

CW_BASIC = base64.b64encode(b"contoso+AbCdEf1234567890:ZyXw9876543210Ab").decode()

PATTERNS = [
    # Passwords on command lines.
    (
        "New-LocalUser -Name bob -Password 'P@ss''w0rd' -FullName Bob",
        "New-LocalUser -Name bob -Password '[REDACTED]' -FullName Bob",
    ),
    ('Connect-Thing -Password "Hunter2"', 'Connect-Thing -Password "[REDACTED]"'),
    ("Connect-Thing -Password:Hunter2 -Force", "Connect-Thing -Password:[REDACTED] -Force"),
    ("mytool --password=Hunter2 --verbose", "mytool --password=[REDACTED] --verbose"),
    ("Get-Token -ApiKey abc123def456", "Get-Token -ApiKey [REDACTED]"),
    (
        "Set-ADAccountPassword -Identity bob -Reset -NewPassword "
        "(ConvertTo-SecureString -AsPlainText 'Summer2024!' -Force)",
        "Set-ADAccountPassword -Identity bob -Reset -NewPassword "
        "(ConvertTo-SecureString -AsPlainText '[REDACTED]' -Force)",
    ),
    (
        "$s = ConvertTo-SecureString -String Hunter22 -AsPlainText -Force",
        "$s = ConvertTo-SecureString -String [REDACTED] -AsPlainText -Force",
    ),
    ("net user bob S3cret! /add", "net user bob [REDACTED] /add"),
    ('net user "Bob Smith" "S3 cret"', 'net user "Bob Smith" "[REDACTED]"'),
    ("NET.EXE USER bob S3cret!", "NET.EXE USER bob [REDACTED]"),
    (
        "net use Z: \\\\fs01\\share Pa55word /user:CORP\\bob",
        "net use Z: \\\\fs01\\share [REDACTED] /user:CORP\\bob",
    ),
    ("cmdkey /add:srv /user:bob /pass:Secr3t", "cmdkey /add:srv /user:bob /pass:[REDACTED]"),
    ("psexec \\\\pc01 -u admin -p Secr3t cmd", "psexec \\\\pc01 -u admin -p [REDACTED] cmd"),
    # Connection strings, key=value, JSON.
    (
        "Server=db01;Database=crm;User Id=sa;Password=Sup3r!;",
        "Server=db01;Database=crm;User Id=sa;Password=[REDACTED];",
    ),
    ("Data Source=x;pwd=abc123", "Data Source=x;pwd=[REDACTED]"),
    ("$password = 'Hunter2'", "$password = '[REDACTED]'"),
    (
        "https://api.example.com/v1?token=abc123&page=2",
        "https://api.example.com/v1?token=[REDACTED]&page=2",
    ),
    ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
    ("client_secret='s3cr3t-value'", "client_secret='[REDACTED]'"),
    ("postgres://app:s3cr3t@db01:5432/app", "postgres://app:[REDACTED]@db01:5432/app"),
    # Tokens and API keys of well-known shapes.
    ("Authorization: Bearer abcdefghijklmnop1234567890", "Authorization: Bearer [REDACTED]"),
    (
        "curl -H 'Authorization: Basic " + CW_BASIC + "'",
        "curl -H 'Authorization: Basic [REDACTED]'",
    ),
    ("Authorization: ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "Authorization: [REDACTED]"),
    ("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345 here", "key [REDACTED] here"),
    ("OPENAI_KEY sk-proj-abcdefghijklmnopqrstuvwx", "OPENAI_KEY [REDACTED]"),
    ("aws AKIA2OGYBAH6STMMNXNN id", "aws [REDACTED] id"),
    # AWS's documentation key is an example everyone pastes, not a credential.
    ("aws AKIAIOSFODNN7EXAMPLE id", "aws AKIAIOSFODNN7EXAMPLE id"),
    ("gh ghp_" + "a1B2" * 9 + " token", "gh [REDACTED] token"),
    ("github_pat_11AB2CdEf3GhIjK4LmNoP5qRsT9uVw", "[REDACTED]"),
    ("slack xoxb-123456789012-abcdefghij", "slack [REDACTED]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop", "jwt [REDACTED]"),
    # ConnectWise key pairs.
    (
        "contoso+AbCdEf1234567890:ZyXw9876543210Ab",
        "contoso+AbCdEf1234567890:[REDACTED]",
    ),
    # Private key blocks, complete and truncated.
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nnext",
        "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\nnext",
    ),
    (
        "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
        "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PATTERNS)
def test_redact_text_patterns(text, expected) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


ORDINARY = [
    "The user's password expired on Monday; reset the user's password and unlock the account.",
    "Ran pwd to check the folder, then ls -la.",
    "An account failed to log on. Event ID 4625. Failure Reason: Unknown user name or bad "
    "password. Status: 0xC000006D. Logon Type: 3. Authentication Package: NTLM",
    "Basic troubleshooting: restarted the router.",
    "The -Password parameter is required by New-LocalUser.",
    "I ran net user bob to check the account, then net user bob /domain.",
    "net user bob * prompts for the password.",
    "Authorization: the user lacks permission on the share.",
    "$password = Read-Host -AsSecureString",
    "Set-ADAccountPassword -Identity $u -Reset -NewPassword $secure",
    "ConvertTo-SecureString converts plain text to a secure string.",
    "Password never expires is set on the service account.",
    "Reset-ComputerMachinePassword -Server dc01 -Credential $cred",
    "The bearer of this laptop reported it.",
    "New-LocalUser -Name svc -Password {{password}}",
    "MaxTokenSize=65535 on the DC.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_redact_text_leaves_ordinary_troubleshooting_text_alone(text) -> None:
    assert redact_text(text) == text


def test_redact_text_handles_a_whole_pasted_script() -> None:
    script = (
        "$cred = New-Object PSCredential('CORP\\svc', "
        "(ConvertTo-SecureString 'Winter2024!' -AsPlainText -Force))\n"
        "net user temp Passw0rd1 /add\n"
        "Invoke-RestMethod -Headers @{Authorization = 'Bearer abcdefghijklmnop0123'}\n"
    )
    redacted = redact_text(script)
    for secret in ("Winter2024!", "Passw0rd1", "abcdefghijklmnop0123"):
        assert secret not in redacted
    assert redacted.count(REDACTED) == 3
    assert redact_text(redacted) == redacted
