"""The script library: templates, rendering into generations, drafts from one-off scripts."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.scripts.extraction import ExtractionResult
from plugin.features.scripts.models import DraftTemplate, ScriptGeneration, ScriptTemplate
from plugin.features.scripts.parameters import ParameterErrors, ParameterSpec, parse_schema
from plugin.features.scripts.render import render_script, validate_template
from plugin.features.scripts.schemas import (
    DraftTemplateOut,
    FindingsAcknowledgement,
    TemplateOut,
    TrackRecord,
)
from plugin.features.scripts.track_record import empty_record
from plugin.kernel.db import utcnow
from plugin.kernel.errors import Conflict, Unprocessable
from plugin.kernel.redaction import redact_sensitive, redact_text
from plugin.kernel.script_lint import Finding, Severity, lint_script
from plugin.kernel.states import DraftStatus
from plugin.kernel.tenancy import get_scoped

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    return _SLUG_JUNK.sub("-", name.lower()).strip("-")[:100] or "template"


def checked_schema(
    body: str, language: str, raw_schema: list[dict[str, Any]]
) -> list[ParameterSpec]:
    """The schema, parsed, and the body checked against it: 422 naming each problem."""
    try:
        schema = parse_schema(raw_schema)
        validate_template(body, language, schema)  # type: ignore[arg-type]
    except ParameterErrors as exc:
        raise Unprocessable(
            "The template is not valid.",
            code="invalid_template",
            details={"fields": {f"parameters.{k}": v for k, v in exc.errors.items()}},
        ) from None
    return schema


LIBRARY_REVIEWER = "the shipped library (reviewed once)"


def high_findings(body: str) -> list[Finding]:
    return [f for f in lint_script(body) if f.severity == Severity.HIGH]


def acknowledgement(body: str, acknowledged: bool, actor: str | None) -> dict[str, Any] | None:
    """What to record of the admin's acceptance of the body's high-severity findings; 422
    when there are some and the admin did not accept them (`acknowledge_findings: true`)."""
    high = high_findings(body)
    if not high:
        return None
    if not acknowledged:
        raise Unprocessable(
            f"The script has {len(high)} high-severity finding(s); read them and publish it "
            "with acknowledge_findings: true if it must do this.",
            code="unacknowledged_findings",
            details={
                "fields": {"acknowledge_findings": "must be true to publish these findings"},
                "findings": [f.model_dump(mode="json") for f in high],
            },
        )
    return {
        "by": actor or "unknown",
        "at": utcnow().isoformat(),
        "findings": [f.model_dump(mode="json") for f in high],
    }


def library_acknowledgement(body: str, acknowledged_rules: list[str], where: str) -> dict | None:
    """A library template's acknowledgement: every high finding's rule must be listed in
    its `acknowledged_findings` (the review done once, when it was added to the file)."""
    high = high_findings(body)
    missing = sorted({f.rule for f in high} - set(acknowledged_rules))
    if missing:
        raise Unprocessable(
            f"{where} has high-severity findings nobody acknowledged: {', '.join(missing)}.",
            code="unacknowledged_findings",
            details={"fields": {f"{where}.acknowledged_findings": f"must list {missing}"}},
        )
    if not high:
        return None
    return {"by": LIBRARY_REVIEWER, "findings": [f.model_dump(mode="json") for f in high]}


def template_out(t: ScriptTemplate, record: dict[str, int] | None = None) -> TemplateOut:
    acknowledged = t.findings_acknowledgement
    return TemplateOut(
        id=t.id,
        slug=t.slug,
        name=t.name,
        description=t.description,
        keywords=list(t.keywords or []),
        language=t.language,
        body=t.body,
        parameters_schema=parse_schema(t.parameters_schema or []),
        origin=t.origin,
        track_record=TrackRecord(**(record or empty_record())),
        findings=lint_script(t.body, t.language),
        findings_acknowledgement=(
            FindingsAcknowledgement.model_validate(acknowledged) if acknowledged else None
        ),
        created_at=t.created_at,
        updated_at=t.updated_at,
        library_version=t.library_version,
        edited_at=t.edited_at,
    )


def draft_out(d: DraftTemplate) -> DraftTemplateOut:
    return DraftTemplateOut(
        id=d.id,
        name=d.name,
        language=d.language,
        source_script=d.source_script,
        templated_body=d.templated_body,
        parameters_schema=parse_schema(d.parameters_schema or []),
        generator=d.generator,
        fell_back=d.fell_back,
        fallback_reason=d.fallback_reason,
        status=d.status,
        session_id=d.session_id,
        suggested_fix_id=d.suggested_fix_id,
        promoted_template_id=d.promoted_template_id,
        findings=lint_script(d.source_script, d.language),
        created_at=d.created_at,
    )


async def get_template(db: AsyncSession, account_id: int, template_id: int) -> ScriptTemplate:
    return await get_scoped(db, ScriptTemplate, template_id, account_id, what="Template")


async def ensure_unique_slug(
    db: AsyncSession, account_id: int, slug: str, *, exclude_id: int | None = None
) -> None:
    stmt = select(ScriptTemplate.id).where(
        ScriptTemplate.account_id == account_id, ScriptTemplate.slug == slug
    )
    if exclude_id is not None:
        stmt = stmt.where(ScriptTemplate.id != exclude_id)
    if (await db.execute(stmt)).first() is not None:
        raise Conflict(
            f"A template with slug {slug!r} already exists.",
            code="template_exists",
            details={"fields": {"slug": "already used"}},
        )


def render(template: ScriptTemplate, values: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(rendered script, its redacted form, redacted parameters); 422 naming bad values."""
    schema = parse_schema(template.parameters_schema or [])
    try:
        rendered = render_script(template.body, template.language, schema, values)  # type: ignore[arg-type]
        redacted = render_script(
            template.body,
            template.language,  # type: ignore[arg-type]
            schema,
            values,
            redact_sensitive=True,
        )
    except ParameterErrors as exc:
        raise Unprocessable(
            "Some parameters are not valid.",
            code="invalid_parameters",
            details={"fields": {f"parameters.{k}": v for k, v in exc.errors.items()}},
        ) from None
    return rendered, redact_text(redacted), redact_sensitive(values, schema)


async def store_generation(
    tx: AsyncSession,
    *,
    account_id: int,
    template: ScriptTemplate,
    values: dict[str, Any],
    ai_session_id: int | None,
    suggested_fix_id: int | None = None,
    actor: str | None = None,
) -> tuple[ScriptGeneration, str]:
    rendered, redacted, parameters = render(template, values)
    generation = ScriptGeneration(
        account_id=account_id,
        session_id=ai_session_id,
        template_id=template.id,
        suggested_fix_id=suggested_fix_id,
        parameters_redacted=parameters,
        rendered_script_redacted=redacted,
        created_by=actor,
    )
    tx.add(generation)
    await tx.flush()
    return generation, rendered


def draft_from_extraction(
    *,
    account_id: int,
    session_id: int | None,
    fix_id: int | None,
    name: str,
    language: str,
    script: str,
    extracted: ExtractionResult,
) -> DraftTemplate:
    """Drafts rest redacted: a fallback body is the script itself, which may hold secrets."""
    return DraftTemplate(
        account_id=account_id,
        session_id=session_id,
        suggested_fix_id=fix_id,
        name=name[:200],
        language=language,
        source_script=redact_text(script),
        templated_body=redact_text(extracted.templated_body),
        parameters_schema=[p.model_dump() for p in extracted.parameters_schema],
        generator=extracted.generator,
        fell_back=extracted.fell_back,
        fallback_reason=extracted.reason,
        status=DraftStatus.DRAFT,
    )


def template_fields(item: dict[str, Any], index: int) -> tuple[str, dict[str, Any]]:
    """The slug and stored fields of one template of a library file (the shipped one or an
    MSP's own), checked like an admin's: 422 naming the template when it is not valid."""
    try:
        slug = item.get("slug") or slugify(item["name"])
        schema = checked_schema(item["body"], item["language"], item.get("parameters_schema", []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise Unprocessable(
            f"Template #{index + 1} is missing {exc}.",
            details={"fields": {f"templates[{index}]": f"missing {exc}"}},
        ) from None
    return slug, {
        "name": item["name"],
        "description": item.get("description", ""),
        "keywords": list(item.get("keywords", [])),
        "language": item["language"],
        "body": item["body"],
        "parameters_schema": [p.model_dump() for p in schema],
        "findings_acknowledgement": library_acknowledgement(
            item["body"], list(item.get("acknowledged_findings", [])), f"templates[{index}]"
        ),
    }


async def import_templates(
    tx: AsyncSession, account_id: int, items: list[dict[str, Any]], *, origin: str
) -> dict[str, int]:
    """Create or update templates by slug (idempotent: an unchanged import changes nothing).

    An updated template counts as edited: the shipped library's upgrades leave it alone."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for index, item in enumerate(items):
        slug, values = template_fields(item, index)
        existing = (
            await tx.execute(
                select(ScriptTemplate).where(
                    ScriptTemplate.account_id == account_id, ScriptTemplate.slug == slug
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            tx.add(ScriptTemplate(account_id=account_id, slug=slug, origin=origin, **values))
            counts["created"] += 1
        elif any(getattr(existing, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(existing, key, value)
            existing.edited_at = utcnow()
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    await tx.flush()
    return counts
