"""tree-sitter parsers (bash, PowerShell) and the node lookups the placement checks share."""

from __future__ import annotations

from functools import cache

import tree_sitter
import tree_sitter_bash
import tree_sitter_powershell


@cache
def parser(language: str) -> tree_sitter.Parser:
    grammar = {"bash": tree_sitter_bash, "powershell": tree_sitter_powershell}[language]
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def parse(language: str, text: str) -> tree_sitter.Node:
    return parser(language).parse(text.encode("utf-8")).root_node


def byte_span(text: str, start: int, end: int) -> tuple[int, int]:
    head = len(text[:start].encode("utf-8"))
    return head, head + len(text[start:end].encode("utf-8"))


def exact_node(root: tree_sitter.Node, start: int, end: int) -> tree_sitter.Node | None:
    """The innermost node covering exactly the bytes [start, end), or None."""
    node = root.descendant_for_byte_range(start, end)
    if node is None or node.start_byte != start or node.end_byte != end:
        return None
    return node


def ancestors(node: tree_sitter.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def text_of(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def first_error(root: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first ERROR or MISSING node, in document order."""
    if not root.has_error:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return node
        stack.extend(reversed([child for child in node.children if child.has_error]))
    return None
