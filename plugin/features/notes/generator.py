"""Draft a resolution note or escalation package with the LLM, falling back to the offline
composer so a document is always produced.

The LLM's answer must have exactly the required headings, in order; one corrective retry is
allowed, then the offline composer's version is used. Logs never include a document's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog

from plugin.features.notes.bundle import NoteBundle
from plugin.features.notes.customer_grade import customer_grade
from plugin.features.notes.escalation import compose_escalation_package
from plugin.features.notes.offline import compose_resolution_note
from plugin.features.notes.prompts import (
    ESCALATION_SYSTEM_PROMPT,
    RESOLUTION_SYSTEM_PROMPT,
    build_messages,
    corrective_message,
)
from plugin.features.notes.sections import (
    ESCALATION_HEADINGS,
    RESOLUTION_HEADINGS,
    RESOLUTION_OPTIONAL,
    check_sections,
    normalise,
)
from plugin.kernel.states import DocumentKind
from providers.llm.base import LLMError, LLMProvider, LLMRequest, LLMResult

log = structlog.get_logger(__name__)

OFFLINE = "offline"
MAX_TOKENS = 1500


@dataclass
class GeneratedDocument:
    markdown: str
    generator: str  # the LLMResult's generator ("anthropic", …) or "offline"
    # What was wrong with the LLM's last answer when it fell back to the offline composer.
    problems: list[str] = field(default_factory=list)
    # Why the offline composer stood in for the LLM: "llm_error" or "bad_structure"; None when
    # the LLM's answer was used or the provider is the offline one anyway. A fallback caused
    # by a transient failure is worth not caching for good.
    fallback_reason: str | None = None


@dataclass(frozen=True)
class _KindSpec:
    headings: list[str]
    system_prompt: str
    compose_offline: Callable[[NoteBundle], str]
    optional: frozenset[str] = frozenset()
    # Read by the customer: written from the bundle's customer view, and graded after.
    for_customer: bool = False


_SPECS = {
    DocumentKind.RESOLUTION_NOTE: _KindSpec(
        RESOLUTION_HEADINGS,
        RESOLUTION_SYSTEM_PROMPT,
        compose_resolution_note,
        optional=RESOLUTION_OPTIONAL,
        for_customer=True,
    ),
    DocumentKind.ESCALATION_PACKAGE: _KindSpec(
        ESCALATION_HEADINGS, ESCALATION_SYSTEM_PROMPT, compose_escalation_package
    ),
}


async def generate_document(
    kind: DocumentKind, bundle: NoteBundle, llm: LLMProvider
) -> GeneratedDocument:
    """The document for `bundle`: the LLM's, when it has the required structure (after at
    most one corrective retry), else the offline composer's. Never raises `LLMError`."""
    spec = _SPECS[kind]
    if spec.for_customer:
        bundle = bundle.customer_view()
    if llm.name == OFFLINE:
        return GeneratedDocument(_offline(spec, bundle), OFFLINE)

    request = LLMRequest(
        kind=kind.value,
        system=spec.system_prompt,
        messages=build_messages(bundle),
        max_tokens=MAX_TOKENS,
        context={"bundle": bundle.as_dict()},
    )
    problems: list[str] = []
    try:
        result = await llm.generate(request)
        markdown, problems = _checked(result, spec, llm, bundle)
        if not problems:
            return GeneratedDocument(markdown, result.generator)
        log.info("notes.corrective_retry", kind=kind.value, provider=llm.name, problems=problems)
        retry = replace(
            request,
            messages=[
                *request.messages,
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": corrective_message(problems)},
            ],
        )
        result = await llm.generate(retry)
        markdown, problems = _checked(result, spec, llm, bundle)
        if not problems:
            return GeneratedDocument(markdown, result.generator)
    except LLMError as exc:
        log.warning(
            "notes.offline_fallback",
            kind=kind.value,
            provider=llm.name,
            reason="llm_error",
            error=type(exc).__name__,
        )
        return GeneratedDocument(_offline(spec, bundle), OFFLINE, problems, "llm_error")

    log.warning(
        "notes.offline_fallback",
        kind=kind.value,
        provider=llm.name,
        reason="bad_structure",
        problems=problems,
    )
    return GeneratedDocument(_offline(spec, bundle), OFFLINE, problems, "bad_structure")


def _offline(spec: _KindSpec, bundle: NoteBundle) -> str:
    markdown = spec.compose_offline(bundle)
    if spec.for_customer:
        graded = customer_grade(
            markdown, optional=spec.optional, customer_words=bundle.customer_words()
        )
        markdown = normalise(graded, spec.headings)
    return markdown


def _checked(
    result: LLMResult, spec: _KindSpec, llm: LLMProvider, bundle: NoteBundle
) -> tuple[str, list[str]]:
    markdown = normalise(result.text, spec.headings)
    if not spec.for_customer:
        return markdown, check_sections(markdown, spec.headings)
    # The prompt says the same, but a model may not obey: its own name included.
    names = [name for name in (llm.model, result.model) if name and name != OFFLINE]
    graded = normalise(
        customer_grade(
            markdown, also=names, optional=spec.optional, customer_words=bundle.customer_words()
        ),
        spec.headings,
    )
    problems = check_sections(graded, spec.headings, spec.optional)
    if problems and graded != markdown:
        problems.append(
            "some sentences were removed because a customer must not read them (keywords, "
            "match explanations, confidence, generator or model names, or filler such as "
            '"none recorded"): leave such things out'
        )
    return graded, problems
