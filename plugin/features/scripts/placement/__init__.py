"""Where a placeholder may stand in a template, decided by each language's own parser.

Every placeholder is replaced by the kind of literal the renderer will put there (a quoted
string, digits, a boolean), the body is parsed (tree-sitter's bash and PowerShell grammars,
a tokenizer of cmd's documented parsing phases), and the literal's place in the tree decides:

- any type may stand as a plain argument of a command, as an assignment's value, or joined
  to a literal prefix (`/delete:{{target}}`, `--unit={{name}}`);
- integers and booleans may also stand in bash arithmetic;
- nothing may stand where the shell evaluates text as code or as a name: eval-like commands
  and wrappers that run their arguments, the command name, subscripts, variable names,
  member names, lines cmd parses a second time; nor inside strings, heredocs or comments.

Anything else is refused with the line and the reason. Some places also restrict the value
(a `Guard`): a bash argument not preceded by `--` must not start with `-`; an argument of a
native program in PowerShell must not hold `"` or end with a backslash (Windows PowerShell
5.1 passes it on without escaping).
"""

from __future__ import annotations

from collections.abc import Mapping

from plugin.features.scripts.placement import bash, cmd, powershell
from plugin.features.scripts.placement.common import Guard, PlaceholderType, Placement
from plugin.features.scripts.placement.quotes import PS_DOUBLE_QUOTES, PS_SINGLE_QUOTES

__all__ = [
    "PS_DOUBLE_QUOTES",
    "PS_SINGLE_QUOTES",
    "Guard",
    "Placement",
    "check_placement",
]


def check_placement(
    body: str, language: str, types: Mapping[str, PlaceholderType] | None = None
) -> Placement:
    """Where each placeholder of `body` stands: problems by name, and value guards by name.

    `types` maps parameter names to their types (a name not in it counts as a string, the
    strictest). A problem of the whole body is keyed "body".
    """
    checkers = {"bash": bash.check, "powershell": powershell.check, "cmd": cmd.check}
    return checkers[language](body, dict(types or {}))
