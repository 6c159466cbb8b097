"""generate_document with a scripted stand-in for the LLM provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

from plugin.features.notes.bundle import FixInBundle, NoteBundle
from plugin.features.notes.escalation import compose_escalation_package
from plugin.features.notes.generator import DocumentKind, generate_document
from plugin.features.notes.offline import compose_resolution_note
from plugin.features.notes.prompts import (
    ESCALATION_SYSTEM_PROMPT,
    RESOLUTION_SYSTEM_PROMPT,
    build_messages,
    corrective_message,
)
from providers.llm.base import LLMBadResponse, LLMRequest, LLMResult, LLMUnavailable, Usage

BUNDLE = NoteBundle(
    session_title="Printing broken",
    ticket_id=4711,
    ticket_summary="Accounting cannot print",
    facts=["Print queue shows 14 stuck jobs"],
    fixes=[
        FixInBundle(
            "Reinstall the printer driver",
            "Corrupted driver.",
            "applied_pending",
            active=True,
            applied=True,
            pending_reason="the user to confirm tomorrow",
        )
    ],
)

GOOD_NOTE = (
    "## Problem\n\nAccounting cannot print.\n\n## What we confirmed\n\n- Stuck jobs.\n\n"
    "## Root cause\n\nA corrupted driver.\n\n## Resolution\n\nWe reinstalled the driver.\n"
)
NOTE_WITHOUT_ROOT_CAUSE = GOOD_NOTE.replace("## Root cause\n\nA corrupted driver.\n\n", "")


class ScriptedLLM:
    """Answers each call with the next scripted item: a text, or an exception to raise."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, *answers: str | Exception) -> None:
        self._answers = list(answers)
        self.requests: list[LLMRequest] = []

    async def generate(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        answer = self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return LLMResult(text=answer, usage=Usage(10, 20), model=self.model, generator="stubbed")

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | LLMResult]:
        yield await self.generate(request)

    async def aclose(self) -> None:
        pass


async def test_good_answer_is_used_with_the_providers_generator_name():
    llm = ScriptedLLM(GOOD_NOTE)

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, BUNDLE, llm)

    assert document.markdown == GOOD_NOTE
    assert document.generator == "stubbed"
    assert document.problems == []
    assert document.fallback_reason is None
    [request] = llm.requests
    assert request.kind == "resolution_note"
    assert request.system == RESOLUTION_SYSTEM_PROMPT
    assert request.messages == build_messages(BUNDLE)
    assert request.max_tokens == 1500
    assert request.context == {"bundle": BUNDLE.as_dict()}
    assert BUNDLE.to_prompt_json() in request.messages[0]["content"]


async def test_answer_is_returned_normalised():
    wrapped = "```markdown\n" + GOOD_NOTE.replace("\n\n", "\n\n\n") + "```"
    document = await generate_document(DocumentKind.RESOLUTION_NOTE, BUNDLE, ScriptedLLM(wrapped))

    assert document.markdown == GOOD_NOTE
    assert document.generator == "stubbed"


async def test_missing_heading_is_corrected_by_one_retry():
    llm = ScriptedLLM(NOTE_WITHOUT_ROOT_CAUSE, GOOD_NOTE)

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, BUNDLE, llm)

    assert document.markdown == GOOD_NOTE
    assert document.generator == "stubbed"
    assert len(llm.requests) == 2
    first, second = llm.requests
    assert second.system == first.system
    assert second.messages == [
        *first.messages,
        {"role": "assistant", "content": NOTE_WITHOUT_ROOT_CAUSE},
        {"role": "user", "content": corrective_message(["missing heading '## Root cause'"])},
    ]
    assert "missing heading '## Root cause'" in second.messages[-1]["content"]


async def test_still_wrong_after_the_retry_falls_back_to_offline():
    llm = ScriptedLLM(NOTE_WITHOUT_ROOT_CAUSE, NOTE_WITHOUT_ROOT_CAUSE)

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, BUNDLE, llm)

    assert len(llm.requests) == 2
    assert document.generator == "offline"
    assert document.markdown == compose_resolution_note(BUNDLE)
    assert document.problems == ["missing heading '## Root cause'"]
    assert document.fallback_reason == "bad_structure"


async def test_unavailable_llm_falls_back_to_offline():
    llm = ScriptedLLM(LLMUnavailable("overloaded"))

    document = await generate_document(DocumentKind.ESCALATION_PACKAGE, BUNDLE, llm)

    assert len(llm.requests) == 1
    assert llm.requests[0].system == ESCALATION_SYSTEM_PROMPT
    assert document.generator == "offline"
    assert document.markdown == compose_escalation_package(BUNDLE)
    assert document.fallback_reason == "llm_error"


async def test_failure_during_the_retry_falls_back_to_offline_keeping_the_problems():
    llm = ScriptedLLM(NOTE_WITHOUT_ROOT_CAUSE, LLMBadResponse("empty"))

    document = await generate_document(DocumentKind.RESOLUTION_NOTE, BUNDLE, llm)

    assert len(llm.requests) == 2
    assert document.generator == "offline"
    assert document.markdown == compose_resolution_note(BUNDLE)
    assert document.problems == ["missing heading '## Root cause'"]


async def test_offline_provider_is_not_called_at_all():
    llm = ScriptedLLM()
    llm.name = "offline"

    document = await generate_document(DocumentKind.ESCALATION_PACKAGE, BUNDLE, llm)

    assert llm.requests == []
    assert document.generator == "offline"
    assert document.markdown == compose_escalation_package(BUNDLE)
    assert document.fallback_reason is None


def test_corrective_message_lists_every_problem():
    message = corrective_message(
        ["missing heading '## Root cause'", "section '## Problem' is empty"]
    )
    assert "- missing heading '## Root cause'\n- section '## Problem' is empty" in message


def test_system_prompts_name_the_headings_in_order():
    for prompt, headings in (
        (RESOLUTION_SYSTEM_PROMPT, ["Problem", "What we confirmed", "Root cause", "Resolution"]),
        (
            ESCALATION_SYSTEM_PROMPT,
            [
                "Problem",
                "What we've confirmed",
                "What we've tried",
                "Current hypothesis",
                "Suggested next steps",
            ],
        ),
    ):
        positions = [prompt.index(f"\n## {h}\n") for h in headings]
        assert positions == sorted(positions)
        assert "ONLY" in prompt and "[REDACTED]" in prompt
    assert "provisional" in RESOLUTION_SYSTEM_PROMPT
    assert "pending_reason" in ESCALATION_SYSTEM_PROMPT
