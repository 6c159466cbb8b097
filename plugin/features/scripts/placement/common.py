"""What the per-language placement checks share: the stand-in literals, the verdicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from plugin.features.scripts.parameters import PLACEHOLDER

PlaceholderType = Literal["string", "integer", "boolean", "choice", "name"]


class Guard(StrEnum):
    """A restriction on the values of a placeholder, owed to where it stands."""

    NO_LEADING_DASH = "no_leading_dash"
    NATIVE_ARGUMENT = "native_argument"


@dataclass
class Placement:
    """The verdict on a body: problems by parameter name ("line N: why"), guards by name."""

    problems: dict[str, str] = field(default_factory=dict)
    guards: dict[str, set[Guard]] = field(default_factory=dict)

    def refuse(self, name: str, line: int, why: str) -> None:
        self.problems.setdefault(name, f"line {line}: {why}")

    def guard(self, name: str, guard: Guard) -> None:
        self.guards.setdefault(name, set()).add(guard)


@dataclass(frozen=True)
class Occurrence:
    """One placeholder of the body, at [start, end), replaced by its stand-in when parsed."""

    name: str
    type: PlaceholderType
    start: int
    end: int
    line: int

    @property
    def textual(self) -> bool:
        """Whether its value renders as a quoted string (not digits or a boolean)."""
        return self.type not in ("integer", "boolean")


def substitute(
    body: str,
    types: Mapping[str, PlaceholderType],
    stand_in: Callable[[PlaceholderType, int], str],
) -> tuple[str, list[Occurrence]]:
    """The body with each placeholder replaced by `stand_in(type, width)`, a literal of the
    renderer's kind exactly as wide as the placeholder (so offsets and lines are the body's)."""
    parts: list[str] = []
    occurrences: list[Occurrence] = []
    position = 0
    for match in PLACEHOLDER.finditer(body):
        parts.append(body[position : match.start()])
        name = match.group(1)
        type_ = types.get(name, "string")
        literal = stand_in(type_, match.end() - match.start())
        assert len(literal) == match.end() - match.start()
        line = body.count("\n", 0, match.start()) + 1
        occurrences.append(Occurrence(name, type_, match.start(), match.end(), line))
        parts.append(literal)
        position = match.end()
    parts.append(body[position:])
    return "".join(parts), occurrences


def words(text: str) -> frozenset[str]:
    """A set of words written as one string (long lists of command names read better so)."""
    return frozenset(text.split())


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


IN_STRING = "must stand as a whole argument, not inside a quoted string, heredoc or here-string"
IN_COMMENT = "must not be inside a comment"
NOT_A_VALUE = "must stand as a plain argument, an assignment's value or joined to a literal prefix"
COMMAND_NAME = "must not be the command that runs (a value would choose what runs)"
ARITHMETIC = "only an integer or boolean parameter may stand in arithmetic"
UNPARSABLE = "the script does not parse here, so where the value would stand is unknown"
ESCAPED = "must not follow an escape character"
GLUED = "must not directly follow {}"


def adjacent_problem(body: str, occ: Occurrence, escape: str, glue: str) -> str | None:
    """A placeholder right after the escape character (which would escape the value's opening
    quote) or glued to a sigil (`$`, `@`, `%`, `!`) that would make it part of a name."""
    before = body[occ.start - 1] if occ.start else ""
    if before and before == escape:
        return ESCAPED
    if before and before in glue:
        return GLUED.format(" or ".join(glue))
    return None


def bare_stand_in(type_: PlaceholderType, width: int) -> str:
    """A bare word as wide as the placeholder: where it lands tells why a literal would not
    parse (inside a string, a comment...)."""
    return "f" * width
