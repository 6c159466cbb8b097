"""Template extraction with its round-trip check (plugin/scripts/extraction)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plugin.features.scripts.extraction import (
    EXTRACTION_SYSTEM_PROMPT,
    ExtractionRejected,
    build_extraction_messages,
    check_round_trip,
    extract_template,
    fallback_result,
    match_template,
    parse_extraction_answer,
)
from plugin.features.scripts.parameters import ParameterSpec
from plugin.features.scripts.render import render_script
from providers.llm.base import LLMBadResponse, LLMRequest, LLMResult, LLMUnavailable, Usage
from providers.llm.offline import OfflineProvider


class ScriptedLLM:
    """Answers every request with the scripted text (or raises the scripted error)."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, answer: str | dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.requests: list[LLMRequest] = []

    async def generate(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        text = self.answer if isinstance(self.answer, str) else json.dumps(self.answer)
        return LLMResult(text=text, usage=Usage(), model=self.model, generator="scripted")


UNLOCK_SCRIPT = (
    "$ErrorActionPreference = 'Stop'\n"
    "Import-Module ActiveDirectory\n"
    "Unlock-ADAccount -Identity 'jdoe' -Server 'DC01'\n"
    "Get-ADUser -Identity 'jdoe' -Properties LockedOut\n"
)
UNLOCK_BODY = (
    "$ErrorActionPreference = 'Stop'\n"
    "Import-Module ActiveDirectory\n"
    "Unlock-ADAccount -Identity {{user_name}} -Server 'DC01'\n"
    "Get-ADUser -Identity {{ user_name }} -Properties LockedOut\n"
)


def unlock_answer(**overrides: Any) -> dict[str, Any]:
    parameter = {
        "name": "user_name",
        "type": "string",
        "required": True,
        "default": None,
        "choices": None,
        "sensitive": False,
        "description": "sAMAccountName of the user to unlock",
        "original_value": "jdoe",
    }
    answer = {"templated_body": UNLOCK_BODY, "parameters": [parameter]}
    answer.update(overrides)
    return answer


async def test_a_well_formed_answer_is_accepted() -> None:
    llm = ScriptedLLM(unlock_answer())
    result = await extract_template(llm, UNLOCK_SCRIPT, "powershell")
    assert result.fell_back is False
    assert result.reason is None
    assert result.generator == "scripted"
    assert result.templated_body == UNLOCK_BODY
    assert [spec.name for spec in result.parameters_schema] == ["user_name"]
    assert result.original_values == {"user_name": "jdoe"}
    rendered = render_script(
        result.templated_body, "powershell", result.parameters_schema, result.original_values
    )
    assert rendered == UNLOCK_SCRIPT

    (request,) = llm.requests
    assert request.kind == "template_extraction"
    assert request.json_output is True
    assert request.system == EXTRACTION_SYSTEM_PROMPT
    assert request.context == {"script": UNLOCK_SCRIPT, "language": "powershell"}
    assert UNLOCK_SCRIPT in request.messages[-1]["content"]
    assert request.messages[-1]["role"] == "user"


async def test_a_fenced_answer_with_several_types_is_accepted() -> None:
    script = "Restart-Service -Name 'Spooler' -Force:$true\nStart-Sleep -Seconds 30\n"
    answer = {
        "templated_body": "Restart-Service -Name {{service}} -Force:{{force}}\n"
        "Start-Sleep -Seconds {{wait}}\n",
        "parameters": [
            {"name": "service", "type": "string", "required": True, "original_value": "Spooler"},
            {"name": "force", "type": "boolean", "default": True, "original_value": True},
            {"name": "wait", "type": "integer", "default": 30, "original_value": "30"},
        ],
    }
    llm = ScriptedLLM("```json\n" + json.dumps(answer, indent=2) + "\n```")
    result = await extract_template(llm, script, "powershell")
    assert result.fell_back is False
    assert result.original_values == {"service": "Spooler", "force": True, "wait": 30}


async def test_sensitive_marking_is_preserved_and_secret_defaults_dropped() -> None:
    script = "$db = 'srv01'\n$apiCode = 'X9-77-QQ'\n"
    answer = {
        "templated_body": "$db = {{server}}\n$apiCode = {{code}}\n",
        "parameters": [
            {"name": "server", "type": "string", "required": True, "original_value": "srv01"},
            {
                "name": "code",
                "type": "string",
                "sensitive": True,
                "default": "X9-77-QQ",
                "original_value": "X9-77-QQ",
            },
        ],
    }
    result = await extract_template(ScriptedLLM(answer), script, "powershell")
    assert result.fell_back is False
    code = result.parameters_schema[1]
    assert (code.sensitive, code.default, code.required) == (True, None, True)
    assert result.parameters_schema[0].sensitive is False


async def test_secrets_never_reach_the_model_and_are_restored_as_sensitive() -> None:
    script = (
        "Set-ADAccountPassword -Identity 'jdoe' -Reset -NewPassword "
        "(ConvertTo-SecureString 'Summer2024!' -AsPlainText -Force)\n"
    )
    answer = {
        "templated_body": "Set-ADAccountPassword -Identity {{user}} -Reset -NewPassword "
        "(ConvertTo-SecureString {{new_secret}} -AsPlainText -Force)\n",
        "parameters": [
            {"name": "user", "type": "string", "required": True, "original_value": "jdoe"},
            {"name": "new_secret", "type": "string", "original_value": "[REDACTED]"},
        ],
    }
    llm = ScriptedLLM(answer)
    result = await extract_template(llm, script, "powershell")
    sent = json.dumps([llm.requests[0].messages, dict(llm.requests[0].context)])
    assert "Summer2024!" not in sent
    assert "[REDACTED]" in sent
    assert result.fell_back is False
    assert result.original_values == {"user": "jdoe", "new_secret": "Summer2024!"}
    secret = result.parameters_schema[1]
    assert (secret.sensitive, secret.required, secret.default) == (True, True, None)
    assert result.parameters_schema[0].sensitive is False


async def test_a_secret_left_in_the_body_as_redacted_text_falls_back() -> None:
    script = "net user temp S3cret! /add\n"
    answer = {"templated_body": "net user temp [REDACTED] /add\n", "parameters": []}
    result = await extract_template(ScriptedLLM(answer), script, "cmd")
    assert result.fell_back is True
    assert result.templated_body == script
    assert "S3cret!" not in (result.reason or "")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            unlock_answer(templated_body=UNLOCK_BODY.replace("'DC01'", "{{server}}")),
            "placeholders not declared: server",
        ),
        (
            unlock_answer(
                parameters=[
                    *unlock_answer()["parameters"],
                    {"name": "server", "type": "string", "original_value": "DC01"},
                ]
            ),
            "declared parameters not used: server",
        ),
        (
            unlock_answer(templated_body=UNLOCK_BODY.replace("LockedOut", "LockedOut, Enabled")),
            "differs from the script from line 4",
        ),
        (
            unlock_answer(
                parameters=[{**unlock_answer()["parameters"][0], "original_value": "jsmith"}]
            ),
            "differs from the script",
        ),
        (
            unlock_answer(templated_body=UNLOCK_BODY.replace("{{user_name}}", "'{{user_name}}'")),
            "does not render: user_name",
        ),
        (
            unlock_answer(parameters=[{"name": "user_name", "type": "string"}]),
            "has no original_value",
        ),
        (
            unlock_answer(parameters=[{"name": "bad name", "original_value": "jdoe"}]),
            "declaration is invalid",
        ),
    ],
)
async def test_a_failed_round_trip_falls_back_to_the_script(answer, reason) -> None:
    result = await extract_template(ScriptedLLM(answer), UNLOCK_SCRIPT, "powershell")
    assert result.fell_back is True
    assert reason in (result.reason or "")
    assert result.templated_body == UNLOCK_SCRIPT
    assert result.parameters_schema == []
    assert result.original_values == {}
    assert result.generator == "scripted"


@pytest.mark.parametrize(
    "text",
    ["not json at all", "[1, 2]", '{"parameters": []}', '{"templated_body": 3}', "```\n{\n```"],
)
async def test_an_unparsable_answer_falls_back(text) -> None:
    result = await extract_template(ScriptedLLM(text), UNLOCK_SCRIPT, "powershell")
    assert result.fell_back is True
    assert result.templated_body == UNLOCK_SCRIPT
    assert result.parameters_schema == []


@pytest.mark.parametrize("error", [LLMUnavailable("down"), LLMBadResponse("empty")])
async def test_an_llm_error_falls_back(error) -> None:
    result = await extract_template(ScriptedLLM(error), UNLOCK_SCRIPT, "powershell")
    assert result.fell_back is True
    assert result.reason == f"the LLM failed ({type(error).__name__})"
    assert result.generator == "scripted"
    assert result.templated_body == UNLOCK_SCRIPT


async def test_the_offline_provider_yields_the_script_with_no_parameters() -> None:
    script = (
        "cmdkey /delete:TERMSRV/rds01.contoso.local\n"
        "Get-Process -Name 'OUTLOOK' -ErrorAction SilentlyContinue | Stop-Process -Force\n"
        "Start-Process outlook.exe\n"
    )
    result = await extract_template(OfflineProvider(), script, "powershell")
    assert result.fell_back is True
    assert result.templated_body == script
    assert result.parameters_schema == []
    assert result.original_values == {}
    assert result.generator == "offline"


async def test_a_huge_script_is_kept_whole_without_asking_the_model() -> None:
    llm = ScriptedLLM(unlock_answer())
    result = await extract_template(llm, "Write-Output 'x'\n" * 2000, "powershell")
    assert result.fell_back is True
    assert llm.requests == []


async def test_an_unknown_language_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        await extract_template(ScriptedLLM(unlock_answer()), UNLOCK_SCRIPT, "fish")


# --- the pieces -----------------------------------------------------------------------------


def test_the_prompt_states_the_contract() -> None:
    for phrase in (
        "ONLY a JSON object",
        '"templated_body"',
        "original_value",
        "prefer fewer parameters",
        '"sensitive": true',
        "WHOLE literal, including its quotes",
        "'O''Brien'",
        "'\\''",
        '"100%%"',
        "character for character",
    ):
        assert phrase in EXTRACTION_SYSTEM_PROMPT
    messages = build_extraction_messages("ipconfig /flushdns", "cmd")
    assert messages == [{"role": "user", "content": messages[0]["content"]}]
    assert "Language: cmd" in messages[0]["content"]
    assert "ipconfig /flushdns" in messages[0]["content"]


def test_parse_extraction_answer_tolerates_only_a_fence() -> None:
    answer = {"templated_body": "x", "parameters": []}
    assert parse_extraction_answer(json.dumps(answer)) == answer
    assert parse_extraction_answer("```json\n" + json.dumps(answer) + "\n```\n") == answer
    assert parse_extraction_answer("```\n" + json.dumps(answer) + "\n```") == answer
    with pytest.raises(ValueError):
        parse_extraction_answer("Here you go: " + json.dumps(answer))


def test_check_round_trip_raises_extraction_rejected() -> None:
    with pytest.raises(ExtractionRejected) as caught:
        check_round_trip("echo 'a'", "bash", {"templated_body": "echo {{x}}", "parameters": []})
    assert caught.value.reason == "placeholders not declared: x"
    result = check_round_trip(
        "echo 'it'\\''s'",
        "bash",
        {
            "templated_body": "echo {{x}}",
            "parameters": [{"name": "x", "type": "string", "original_value": "it's"}],
        },
        generator="g",
    )
    assert (result.original_values, result.generator, result.fell_back) == (
        {"x": "it's"},
        "g",
        False,
    )


def test_fallback_result_is_the_script_without_parameters() -> None:
    result = fallback_result("ipconfig /flushdns", "why", "offline")
    assert (result.templated_body, result.parameters_schema, result.original_values) == (
        "ipconfig /flushdns",
        [],
        {},
    )
    assert (result.fell_back, result.reason, result.generator) == (True, "why", "offline")


@pytest.mark.parametrize(
    ("language", "body", "script", "values"),
    [
        ("powershell", "A {{x}} B {{x}} {{n}} {{f}}", "A 'o''k' B 'o''k' -3 $false", {"x": "o'k"}),
        ("bash", "A -- {{x}} B {{n}} {{f}}", "A -- 'it'\\''s' B -3 false", {"x": "it's"}),
        ("cmd", "A {{x}} B {{n}} {{f}}", 'A "50%%" B -3 0', {"x": "50%"}),
    ],
)
def test_match_template_reads_values_back(language, body, script, values) -> None:
    schema = [
        ParameterSpec(name="x", type="string", required=True),
        ParameterSpec(name="n", type="integer", required=True),
        ParameterSpec(name="f", type="boolean", required=True),
    ]
    assert match_template(body, language, schema, script) == {**values, "n": -3, "f": False}
    assert match_template(body, language, schema, script + " extra") is None
