"""Placement in PowerShell, read from tree-sitter-powershell's tree.

The grammar knows only ASCII quotes, dashes and blanks, so the body is parsed in a form where
each of PowerShell's other quote, dash and blank characters is replaced by its ASCII twin (the
tokenizer treats them alike) and any other non-ASCII character by a letter. Values never rely
on the grammar's view of where a string ends: the renderer writes them in ASCII only, and a
template with parameters must itself be ASCII outside comments (Windows PowerShell 5.1 reads
a file without a BOM in the ANSI code page, where one byte of a UTF-8 character can become a
quote and move the end of a string).
"""

from __future__ import annotations

import re
import unicodedata

from tree_sitter import Node

from plugin.features.scripts.parameters import PLACEHOLDER
from plugin.features.scripts.placement.common import (
    COMMAND_NAME,
    IN_COMMENT,
    IN_STRING,
    NOT_A_VALUE,
    UNPARSABLE,
    Guard,
    Occurrence,
    PlaceholderType,
    Placement,
    adjacent_problem,
    bare_stand_in,
    line_of,
    substitute,
    words,
)
from plugin.features.scripts.placement.quotes import PS_DASHES, PS_DOUBLE_QUOTES, PS_SINGLE_QUOTES
from plugin.features.scripts.placement.treesitter import (
    ancestors,
    exact_node,
    first_error,
    parse,
    text_of,
)

# Commands that run a value as code or as a program, or bind it as a name of something.
EVALUATING = words(
    """invoke-expression iex add-type start-process saps start invoke-item ii foreach-object %
    foreach set-alias new-alias sal nal set-variable new-variable get-variable remove-variable
    clear-variable sv nv gv rv clv set invoke-wmimethod invoke-cimmethod new-scheduledtaskaction
    register-scheduledjob start-job sajb start-threadjob import-module ipmo new-module nmo
    new-service cmd powershell pwsh wsl bash wscript cscript mshta rundll32 regsvr32 schtasks at
    psexec psexec64 runas wmic forfiles"""
)
# Methods that compile, expand, load or start what they are given.
EVAL_METHODS = words(
    """expandstring invokescript newscriptblock addscript addcommand invokemember
    createinstance load loadfile loadfrom loadwithpartialname compileassemblyfromsource
    start"""
)
# Windows PowerShell 5.1's built-in aliases and functions without a dash: not native programs.
ALIASES = words(
    """? % ac asnp cat cd chdir clc clear clhy cli clp cls clv cnsn compare copy cp cpi cpp
    curl cvpa dbp del diff dir dnsn ebp echo epal epcsv epsn erase etsn exsn fc fhx fl foreach
    ft fw gal gbp gc gcb gci gcm gcs gdr ghy gi gjb gl gm gmo gp gps gpv group gsn gsnp gsv gu
    gv gwmi h help history icm iex ihy ii ipal ipcsv ipmo ipsn irm ise iwmi iwr kill lp ls man
    md measure mi mkdir more mount move mp mv nal ndr ni nmo npssc nsn nv ogv oh oss popd ps
    pushd pwd r rbp rcjb rcsn rd rdr ren ri rjb rm rmdir rmo rni rnp rp rsn rsnp rujb rv rvpa
    rwmi sajb sal saps sasv sbp sc select set shcm si sl sleep sls sort sp spjb spps spsv start
    sujb sv swmi tee trcm type wget where wjb write param"""
)
_REFUSING_ANCESTORS = {
    "comment": IN_COMMENT,
    "expandable_string_literal": IN_STRING,
    "verbatim_string_characters": IN_STRING,
    "expandable_here_string_literal": IN_STRING,
    "verbatim_here_string_characters": IN_STRING,
    "stop_parsing": "must not follow --% (the rest of the line goes to the program unparsed)",
    "type_literal": "must not be a type name",
    "member_name": "must not be a member name (a value would choose the method or property)",
    "braced_variable": "must not be a variable name",
    "attribute": "must not be inside an attribute",
    "command_name": COMMAND_NAME,
    "command_name_expr": COMMAND_NAME,
}
_PLAIN_PREFIX = re.compile(r"[A-Za-z0-9_:./\\=+,#-]*")


# tree-sitter-powershell fails on `Get-X -P A, B` (a bare word, a comma, a blank) though it
# reads `A ,B`, which means the same to PowerShell: move such commas past the blanks.
_COMMA_THEN_BLANKS = re.compile(r"(?<=[^\s,]),([ \t]+)(?=[^\s,])")


def ascii_twin(body: str) -> str:
    """The body with one ASCII character per character, as PowerShell's tokenizer sees it."""
    twin = "".join(_twin(ch) for ch in body)
    return _COMMA_THEN_BLANKS.sub(lambda m: m.group(1) + ",", twin)


def _twin(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch in PS_SINGLE_QUOTES:
        return "'"
    if ch in PS_DOUBLE_QUOTES:
        return '"'
    if ch in PS_DASHES:
        return "-"
    if ch == "\x85" or unicodedata.category(ch) == "Zs":
        return " "
    return "x"


def _stand_in(type_: PlaceholderType, width: int) -> str:
    if type_ == "integer":
        return "1" * width
    if type_ == "boolean":
        return "$true".ljust(width, "x")
    return "'" + "f" * (width - 2) + "'"


def check(body: str, types: dict[str, PlaceholderType]) -> Placement:
    placement = Placement()
    if not PLACEHOLDER.search(body):
        return placement
    twin = ascii_twin(body)
    text, occurrences = substitute(twin, types, _stand_in)
    root = parse("powershell", text)
    error = first_error(root)
    if error is not None:
        bare = parse("powershell", substitute(twin, types, bare_stand_in)[0])
        for occurrence in occurrences:
            why = adjacent_problem(twin, occurrence, "`", "$@")
            where = bare.descendant_for_byte_range(occurrence.start, occurrence.start + 1)
            why = why or (_refusing_ancestor(where) if where is not None else None)
            if why is None or why in (COMMAND_NAME,):
                why = f"{UNPARSABLE} (line {error.start_point[0] + 1})"
            placement.refuse(occurrence.name, occurrence.line, why)
        return placement
    non_ascii = _non_ascii_outside_comments(root, body)
    if non_ascii:
        placement.problems["body"] = (
            f"line {non_ascii}: a PowerShell template with parameters must be ASCII outside "
            "comments (Windows PowerShell 5.1 reads a file saved without a BOM in the ANSI "
            "code page, where part of a non-ASCII character can become a quote)"
        )
    for occurrence in occurrences:
        why = adjacent_problem(twin, occurrence, "`", "$@") or _problem(root, occurrence, placement)
        if why:
            placement.refuse(occurrence.name, occurrence.line, why)
    return placement


def _non_ascii_outside_comments(root: Node, body: str) -> int | None:
    """The first line with a non-ASCII character outside a comment (the parsed text is the
    body's ASCII twin with same-width stand-ins, so its offsets are the body's)."""
    comments: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            comments.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.children)
    for index, ch in enumerate(body):
        if not ch.isascii() and not any(start <= index < end for start, end in comments):
            return line_of(body, index)
    return None


def _problem(root: Node, occ: Occurrence, placement: Placement) -> str | None:
    node = exact_node(root, occ.start, occ.end)
    if node is None:
        return _joined_problem(root, occ, placement)
    expected = {
        "verbatim_string_characters",
        "string_literal",
        "decimal_integer_literal",
        "integer_literal",
        "variable",
    }
    if node.type not in expected:
        return _refusing_ancestor(node) or NOT_A_VALUE
    return _context_problem(node, occ, placement)


def _joined_problem(root: Node, occ: Occurrence, placement: Placement) -> str | None:
    """A value joined to a literal prefix in one argument (`/delete:{{target}}`)."""
    token = root.descendant_for_byte_range(occ.start, occ.end)
    if token is None or token.type != "generic_token" or token.end_byte != occ.end:
        return _refusing_ancestor(token) if token is not None else NOT_A_VALUE
    prefix = text_of(token)[: occ.start - token.start_byte]
    if not _PLAIN_PREFIX.fullmatch(prefix) or prefix.startswith("-"):
        return NOT_A_VALUE
    return _context_problem(token, occ, placement)


def _refusing_ancestor(node: Node, *, itself: bool = True) -> str | None:
    for ancestor in [node, *ancestors(node)] if itself else ancestors(node):
        if ancestor.type in _REFUSING_ANCESTORS:
            return _REFUSING_ANCESTORS[ancestor.type]
    return None


def _context_problem(node: Node, occ: Occurrence, placement: Placement) -> str | None:
    why = _refusing_ancestor(node, itself=False)
    if why:
        return why
    innermost: Node | None = None
    for ancestor in ancestors(node):
        if ancestor.type == "command":
            innermost = innermost or ancestor
            why = _command_problem(ancestor)
        elif ancestor.type == "pipeline":
            why = _pipeline_problem(ancestor)
        elif ancestor.type == "invokation_expression":
            why = _method_problem(ancestor, node)
        if why:
            return why
    if innermost is not None and _is_native(_command_name(innermost) or ""):
        placement.guard(occ.name, Guard.NATIVE_ARGUMENT)
    return None


def _command_name(command: Node) -> str | None:
    """The command's literal name, lower-case; None when it is chosen at run time."""
    for child in command.children:
        if child.type == "command_name":
            text = text_of(child)
            return None if any(ch in text for ch in "$(`'\"") else text.lower()
        if child.type == "command_name_expr":
            inner = [c for c in child.children if c.type == "command_name"]
            return _command_name_of(inner[0]) if inner else None
    return None


def _command_name_of(node: Node) -> str | None:
    text = text_of(node)
    return None if any(ch in text for ch in "$(`'\"") else text.lower()


def _command_problem(command: Node) -> str | None:
    name = _command_name(command)
    if name is None:
        return "is an argument of a command chosen at run time (a variable or expression)"
    program = re.split(r"[\\/]", name)[-1].removesuffix(".exe")
    if program in EVALUATING:
        return f"must not reach `{program}`, which runs what it is given as code or a program"
    return None


def _pipeline_problem(pipeline: Node) -> str | None:
    """A value piped into an evaluating command is run as code just the same."""
    stack = [pipeline]
    while stack:
        node = stack.pop()
        if node.type == "command" and (why := _command_problem(node)):
            return why
        stack.extend(c for c in node.children if c.type not in ("script_block_expression",))
    return None


def _method_problem(invocation: Node, node: Node) -> str | None:
    arguments = next((c for c in invocation.children if c.type == "argument_list"), None)
    member = next((c for c in invocation.children if c.type == "member_name"), None)
    if arguments is None or member is None:
        return None
    if not (arguments.start_byte <= node.start_byte and node.end_byte <= arguments.end_byte):
        return None
    method = text_of(member).lower()
    target = text_of(invocation.children[0]).lower()
    if method in EVAL_METHODS or (method == "create" and "scriptblock" in target):
        return f"must not be an argument of the method {text_of(member)}, which runs or loads it"
    return None


def _is_native(name: str) -> bool:
    """Whether the command is a program (whose arguments 5.1 passes on without escaping)."""
    if "\\" in name or "/" in name or re.search(r"\.(exe|com|bat|cmd)$", name):
        return True
    return "-" not in name and name not in ALIASES
