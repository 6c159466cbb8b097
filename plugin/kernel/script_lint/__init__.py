"""The dangerous-operation lint: every script an engineer can run is read for operations that
destroy data, turn security off, run code from elsewhere or hidden, dump credentials, delete
backups, change everything at once, or open a way in. Each finding names the line and says in
a plain sentence what the line does.

It is a reviewer's aid, not a sandbox: it reads the text (PowerShell, bash and cmd, and cmd
called from PowerShell and back), so it errs towards warning. Rules are written per category
of harm; `tests/data/script_lint` holds the corpus they are measured on
(`bench/script_lint.py`).
"""

from __future__ import annotations

from pydantic import BaseModel

from plugin.kernel.script_lint import context
from plugin.kernel.script_lint.language import guess_language
from plugin.kernel.script_lint.rules import Rule, Scope, Severity
from plugin.kernel.script_lint.rules_destruction import RULES as _DESTRUCTION
from plugin.kernel.script_lint.rules_execution import RULES as _EXECUTION
from plugin.kernel.script_lint.rules_scope import RULES as _SCOPE
from plugin.kernel.script_lint.rules_security import RULES as _SECURITY
from plugin.kernel.script_lint.text import Piece, blocks, logical_lines

__all__ = ["Finding", "Severity", "guess_language", "has_high", "lint_script", "RULES"]

RULES: tuple[Rule, ...] = _DESTRUCTION + _SECURITY + _EXECUTION + _SCOPE
MAX_SCRIPT_CHARS = 200_000


class Finding(BaseModel):
    """One dangerous operation in a script: how bad, which rule, where, and what it does."""

    severity: Severity
    rule: str
    line: int
    message: str


def lint_script(script: str | None, language: str | None = None) -> list[Finding]:
    """Every finding in `script`, by line, high severity first within a line.

    `language` is accepted for symmetry with the renderer; rules apply to every language,
    since scripts call one another (cmd from PowerShell, PowerShell from cmd).
    """
    if not script:
        return []
    source = script[:MAX_SCRIPT_CHARS].replace("\r\n", "\n")
    lines, statements = logical_lines(source), blocks(source)
    found: dict[tuple[str, int], Finding] = {}
    for rule in RULES:
        if rule.needs is not None and not _anywhere(rule.needs, lines):
            continue
        if rule.unless_script is not None and _anywhere(rule.unless_script, lines):
            continue
        for piece in statements if rule.scope == Scope.BLOCK else lines:
            match = rule.pattern.search(piece.text)
            if match and not (rule.unless and rule.unless.search(piece.text)):
                _add(found, rule, piece.line_at(match.start()))
    hits = [
        *context.downloaded_then_run(source, lines),
        *context.unset_variable_delete(source, lines),
        *context.every_account_loop(source, statements),
    ]
    for hit in hits:
        _add(found, hit.rule, hit.line)
    order = {Severity.HIGH: 0, Severity.MEDIUM: 1}
    return sorted(found.values(), key=lambda f: (f.line, order[f.severity], f.rule))


def has_high(findings: list[Finding]) -> bool:
    return any(finding.severity == Severity.HIGH for finding in findings)


def _anywhere(pattern, lines: list[Piece]) -> bool:
    return any(pattern.search(piece.text) for piece in lines)


def _add(found: dict[tuple[str, int], Finding], rule: Rule, line: int) -> None:
    key = (rule.category, line)
    current = found.get(key)
    if current is None or (current.severity == Severity.MEDIUM and rule.severity == Severity.HIGH):
        found[key] = Finding(severity=rule.severity, rule=rule.id, line=line, message=rule.message)
