"""Placement in bash, read from tree-sitter-bash's tree of the body with stand-in literals."""

from __future__ import annotations

import posixpath

from tree_sitter import Node

from plugin.features.scripts.parameters import PLACEHOLDER
from plugin.features.scripts.placement.common import (
    ARITHMETIC,
    COMMAND_NAME,
    IN_STRING,
    NOT_A_VALUE,
    UNPARSABLE,
    Guard,
    Occurrence,
    PlaceholderType,
    Placement,
    adjacent_problem,
    bare_stand_in,
    substitute,
    words,
)
from plugin.features.scripts.placement.treesitter import (
    ancestors,
    byte_span,
    exact_node,
    first_error,
    parse,
    text_of,
)

# Commands that run an argument as code (or hand it to a shell, an interpreter, a remote
# shell, a program that evaluates it later).
EVALUATING = words(
    "eval trap source . su runuser sg watch ssh script at batch parallel expect coproc "
    "bash sh dash zsh ksh mksh fish csh tcsh busybox python python2 python3 perl ruby node "
    "nodejs php lua tclsh awk gawk mawk nawk sed alias bind complete compgen"
)
# Commands that read arguments as variable names (bash evaluates subscripts in names).
NAME_TAKING = words("read mapfile readarray unset getopts hash enable")
# Commands that run another command given as their arguments: option → takes a value.
WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (words("-u -g -h -p -C -D -r -t -T -U"), 0),
    "doas": (words("-u -C"), 0),
    "pkexec": (frozenset(["--user"]), 0),
    "env": (words("-u -C -S"), 0),
    "nice": (frozenset(["-n"]), 0),
    "ionice": (words("-c -n -p -t"), 0),
    "timeout": (words("-s -k"), 1),
    "stdbuf": (words("-i -o -e"), 0),
    "chrt": (frozenset(), 1),
    "taskset": (frozenset(), 1),
    "flock": (words("-w -E"), 1),
    "chroot": (frozenset(), 1),
    "xargs": (words("-a -d -E -e -I -i -L -l -n -P -s"), 0),
    "nohup": (frozenset(), 0),
    "setsid": (frozenset(), 0),
    "command": (frozenset(), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset(["-a"]), 0),
    "time": (frozenset(["-f", "-o"]), 0),
    "systemd-run": (words("-u -p -E"), 0),
}
ARITHMETIC_TESTS = words("-eq -ne -lt -le -gt -ge")
NAME_TESTS = frozenset(["-v", "-R"])
FIND_EXEC = words("-exec -execdir -ok -okdir")
_REDIRECTS = frozenset(["file_redirect", "heredoc_redirect", "herestring_redirect"])


def _stand_in(type_: PlaceholderType, width: int) -> str:
    if type_ == "integer":
        return "1" * width
    if type_ == "boolean":
        return "true".ljust(width, "x")
    return "'" + "f" * (width - 2) + "'"


def check(body: str, types: dict[str, PlaceholderType]) -> Placement:
    placement = Placement()
    if not PLACEHOLDER.search(body):
        return placement
    if "\r" in body:
        placement.problems["body"] = (
            "a bash template must use LF line endings: bash keeps a carriage return, so a "
            "heredoc's end line or a word would not be what it seems"
        )
        return placement
    text, occurrences = substitute(body, types, _stand_in)
    root = parse("bash", text)
    error = first_error(root)
    bare_text, _ = substitute(body, types, bare_stand_in)
    bare = parse("bash", bare_text)
    integer_names = _integer_variables(root)
    for occurrence in occurrences:
        start, end = byte_span(text, occurrence.start, occurrence.end)
        why = adjacent_problem(body, occurrence, "\\", "$")
        if why is None and error is not None:
            why = _why_not_a_literal(bare, start)
            if why == NOT_A_VALUE:
                why = f"{UNPARSABLE} (line {error.start_point[0] + 1})"
        if why is None:
            why = _problem(root, start, end, occurrence, integer_names, placement)
        if why:
            placement.refuse(occurrence.name, occurrence.line, why)
    return placement


def _problem(
    root: Node, start: int, end: int, occ: Occurrence, integers: set[str], placement: Placement
) -> str | None:
    node = exact_node(root, start, end)
    expected = ("raw_string",) if occ.textual else ("number", "word")
    if node is None or node.type not in expected:
        if _in_let_expression(root, start, end):
            return ARITHMETIC if occ.textual else None
        return _why_not_a_literal(root, start)
    if any(_backquoted(ancestor) for ancestor in ancestors(node)):
        return BACKQUOTED
    if node.parent.type == "concatenation":
        parts = node.parent.children
        if parts[-1] != node or any(part.type != "word" for part in parts[:-1]):
            return NOT_A_VALUE
        node = node.parent
        # Joined to a literal prefix, the value cannot start the word: no option to fear.
        placement = Placement()
    parent = node.parent
    kind = parent.type
    if kind == "command_name":
        return COMMAND_NAME
    if kind == "command":
        return _argument_problem(parent, node, occ, placement)
    if kind == "variable_assignment" and parent.child_by_field_name("value") == node:
        return _assignment_problem(parent, occ, integers, placement)
    if kind == "array" and parent.parent.type == "variable_assignment":
        return _assignment_problem(parent.parent, occ, integers, placement)
    if kind in ("case_statement", "for_statement") and node in parent.children_by_field_name(
        "value"
    ):
        placement.guard(occ.name, Guard.NO_LEADING_DASH)
        return None
    return _expression_problem(node, occ)


def _in_let_expression(root: Node, start: int, end: int) -> bool:
    """Inside one of `let`'s arguments (`let n={{v}}+1`), which are arithmetic."""
    word = root.descendant_for_byte_range(start, end)
    if word is None or word.type != "word" or word.parent is None:
        return False
    command = word.parent
    return command.type == "command" and _literal_word(command.child_by_field_name("name")) == "let"


def _why_not_a_literal(root: Node, start: int) -> str:
    node = root.descendant_for_byte_range(start, start + 1)
    for ancestor in [node, *ancestors(node)] if node else []:
        if _backquoted(ancestor):
            return BACKQUOTED
        if ancestor.type in ("heredoc_body", "string", "raw_string", "ansi_c_string"):
            return IN_STRING
        if ancestor.type == "comment":
            return "must not be inside a comment"
        if ancestor.type in ("expansion", "simple_expansion"):
            return "must not be inside a ${...} expansion"
    return NOT_A_VALUE


BACKQUOTED = "must not be inside `...` (a backquote in the value would end the substitution)"


def _backquoted(node: Node) -> bool:
    return node.type == "command_substitution" and node.children[0].type == "`"


def _expression_problem(node: Node, occ: Occurrence) -> str:
    """A literal inside an expression: arithmetic, a [[ ]] test, a subscript, an expansion."""
    operator_node = node.parent
    for ancestor in ancestors(node):
        kind = ancestor.type
        if kind == "subscript":
            return "must not be an array subscript (bash evaluates it as code)"
        if kind == "expansion":
            return "must not be inside a ${...} expansion"
        if kind == "arithmetic_expansion" or (
            kind == "compound_statement" and ancestor.children[0].type == "(("
        ):
            return None if not occ.textual else ARITHMETIC
        if kind == "test_command":
            return _test_problem(operator_node, occ)
        if kind in ("command", "program", "heredoc_body", "string"):
            break
    return NOT_A_VALUE


def _test_problem(expression: Node, occ: Occurrence) -> str | None:
    operators = {text_of(child) for child in expression.children if child.type == "test_operator"}
    if operators & NAME_TESTS:
        return "must not be a variable name (bash evaluates subscripts in names)"
    if operators & ARITHMETIC_TESTS and occ.textual:
        return ARITHMETIC
    return None


def _literal_word(node: Node | None) -> str | None:
    """The text of a word with nothing to expand, else None."""
    if node is None:
        return None
    if node.type == "command_name":
        node = node.children[0] if node.child_count == 1 else None
    if node is None or node.type != "word" or node.named_child_count:
        return None
    text = text_of(node)
    return None if any(ch in text for ch in "$`\\*?[{~") else text


def _argument_problem(
    command: Node, node: Node, occ: Occurrence, placement: Placement
) -> str | None:
    name = _literal_word(command.child_by_field_name("name"))
    if name is None:
        return "is an argument of a command chosen at run time (a variable or expansion)"
    args = [
        child
        for child in command.children
        if child.is_named
        and child.type not in _REDIRECTS
        and child.type not in ("command_name", "variable_assignment", "comment")
    ]
    index = args.index(node)
    program, first = posixpath.basename(name), 0
    while program in WRAPPERS:
        target = _wrapped_command(program, args, first)
        if target is None or index <= target:
            return f"must not be the command or an option of `{program}`, which runs a command"
        wrapped = _literal_word(args[target])
        if wrapped is None:
            return f"`{program}` runs a command chosen at run time"
        program, first = posixpath.basename(wrapped), target + 1
    why = _program_problem(program, args, first, index, occ)
    if why:
        return why
    before = [_literal_word(arg) for arg in args[first:index]]
    if "--" not in before:
        placement.guard(occ.name, Guard.NO_LEADING_DASH)
    return None


def _wrapped_command(program: str, args: list[Node], first: int) -> int | None:
    """The index in `args` of the command a wrapper runs, or None if there is none."""
    takes_value, positionals = WRAPPERS[program]
    i = first
    while i < len(args):
        word = _literal_word(args[i])
        if word in ("-c", "--command"):
            return None
        if word == "--":
            i += 1
            break
        if word is not None and word.startswith("-"):
            i += 2 if word in takes_value else 1
        elif program == "env" and word is not None and "=" in word:
            i += 1
        else:
            break
    i += positionals
    return i if i < len(args) else None


def _program_problem(
    program: str, args: list[Node], first: int, index: int, occ: Occurrence
) -> str | None:
    if program in EVALUATING:
        return f"must not be an argument of `{program}`, which runs its arguments as code"
    if program in NAME_TAKING:
        return f"must not be an argument of `{program}`, which reads them as variable names"
    if program == "let":
        return ARITHMETIC if occ.textual else None
    previous = _literal_word(args[index - 1]) if index > first else None
    if program == "printf" and previous == "-v":
        return "must not be the variable name of `printf -v`"
    if program in ("[", "test") and previous in NAME_TESTS:
        return "must not be a variable name (bash evaluates subscripts in names)"
    if program == "wait" and previous == "-p":
        return "must not be the variable name of `wait -p`"
    if program == "find":
        words = [_literal_word(arg) for arg in args[first:index]]
        opened = max((i for i, w in enumerate(words) if w in FIND_EXEC), default=-1)
        if opened >= 0 and not {";", "+", "\\;"} & set(words[opened:]):
            return "must not be part of the command `find -exec` runs"
    return None


def _assignment_problem(
    assignment: Node, occ: Occurrence, integers: set[str], placement: Placement
) -> str | None:
    declaration = assignment.parent if assignment.parent.type == "declaration_command" else None
    flags = _declaration_flags(declaration) if declaration is not None else ""
    if set(flags) & set("naA"):
        return "must not be the value of a name reference or an array declared with -n, -a or -A"
    target = assignment.child_by_field_name("name")
    name = text_of(target) if target is not None and target.type == "variable_name" else ""
    if "i" in flags or name in integers:
        return ARITHMETIC if occ.textual else None
    placement.guard(occ.name, Guard.NO_LEADING_DASH)
    return None


def _declaration_flags(declaration: Node) -> str:
    words = [text_of(c) for c in declaration.children if c.type == "word"]
    return "".join(w[1:] for w in words if w.startswith("-"))


def _integer_variables(root: Node) -> set[str]:
    """Variables declared with the integer attribute: assigning to them is arithmetic."""
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "declaration_command" and "i" in _declaration_flags(node):
            for child in node.children:
                if child.type == "variable_name":
                    names.add(text_of(child))
                elif child.type == "variable_assignment":
                    target = child.child_by_field_name("name")
                    if target is not None:
                        names.add(text_of(target))
        stack.extend(node.children)
    return names
