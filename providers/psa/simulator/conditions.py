"""ConnectWise's `conditions` query language, the part integrations use:

    board/id=12 and closedFlag=False
    summary like "%printer%" or (status/name="New" and owner/identifier != null)
    lastUpdated > [2024-01-01T00:00:00Z]      (a name not on the record is read from `_info`)
    id in (5001, 5002)

Fields are record paths (`a/b`); strings are in double quotes and compare case-insensitively
(ConnectWise's database collation is case-insensitive); dates are in square brackets;
`like` takes `%` as its wildcard; `and` binds tighter than `or`. `parse_conditions` turns the
text into a predicate over a record, or raises `SimError` (400) for what it can't read.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from providers.psa.simulator.records import SimError

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<date>\[[^\]]*\])
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[\w/.-]+)
    )""",
    re.VERBOSE,
)
_LITERALS = {"true": True, "false": False, "null": None}
_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def parse_conditions(text: str) -> Predicate:
    parser = _Parser(_tokenize(text))
    predicate = parser.parse_or()
    if parser.peek() is not None:
        raise _invalid(f"unexpected {parser.peek()[1]!r}")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise _invalid(f"cannot read {text[position:].strip()[:20]!r}")
        tokens.append((match.lastgroup or "", match.group(match.lastgroup or 0)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent: or-expression → and-expression → comparison or (group)."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self._tokens = tokens
        self._next = 0

    def peek(self) -> tuple[str, str] | None:
        return self._tokens[self._next] if self._next < len(self._tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _invalid("the conditions end too early")
        self._next += 1
        return token

    def take_keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self._next += 1
            return True
        return False

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.take_keyword("or"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else lambda r: any(p(r) for p in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_term()]
        while self.take_keyword("and"):
            parts.append(self.parse_term())
        return parts[0] if len(parts) == 1 else lambda r: all(p(r) for p in parts)

    def parse_term(self) -> Predicate:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.parse_or()
            if self.take() != ("punct", ")"):
                raise _invalid("a '(' is not closed")
            return inner
        kind, field = self.take()
        if kind != "word":
            raise _invalid(f"expected a field name, found {field!r}")
        negate = self.take_keyword("not")
        if self.take_keyword("like"):
            matches = _like(field, self.parse_value())
        elif self.take_keyword("in"):
            matches = _in(field, self.parse_list())
        elif negate:
            raise _invalid("'not' must come before 'like' or 'in'")
        else:
            kind, op = self.take()
            if kind != "op":
                raise _invalid(f"expected an operator after {field}, found {op!r}")
            matches = _compare(field, op, self.parse_value())
        return (lambda r: not matches(r)) if negate else matches

    def parse_list(self) -> list[Any]:
        if self.take() != ("punct", "("):
            raise _invalid("'in' takes a list in parentheses")
        values = [self.parse_value()]
        while self.peek() == ("punct", ","):
            self.take()
            values.append(self.parse_value())
        if self.take() != ("punct", ")"):
            raise _invalid("the list after 'in' is not closed")
        return values

    def parse_value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "date":
            date = _parse_date(text[1:-1])
            if date is None:
                raise _invalid(f"{text} is not a date")
            return date
        if kind == "word" and text.lower() in _LITERALS:
            return _LITERALS[text.lower()]
        if kind == "word":
            try:
                return float(text) if "." in text else int(text)
            except ValueError:
                pass
        raise _invalid(f"{text!r} is not a value (strings need double quotes)")


# --- comparisons -------------------------------------------------------------------------


def _compare(field: str, op: str, expected: Any) -> Predicate:
    def matches(record: Record) -> bool:
        actual = _field(record, field)
        if op in ("=", "!=", "<>"):
            return _equal(actual, expected) == (op == "=")
        ordered = _comparable(actual, expected)
        return ordered is not None and _ORDERINGS[op](*ordered)

    return matches


def _like(field: str, pattern: Any) -> Predicate:
    if not isinstance(pattern, str):
        raise _invalid("'like' takes a quoted string")
    regex = re.compile(
        ".*".join(re.escape(part) for part in pattern.split("%")), re.IGNORECASE | re.DOTALL
    )

    def matches(record: Record) -> bool:
        actual = _field(record, field)
        return actual is not None and regex.fullmatch(str(actual)) is not None

    return matches


def _in(field: str, values: list[Any]) -> Predicate:
    return lambda record: any(_equal(_field(record, field), v) for v in values)


def _equal(actual: Any, expected: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return actual is expected
    ordered = _comparable(actual, expected)
    return ordered is not None and ordered[0] == ordered[1]


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Both sides as one comparable type, or None when they can't be compared."""
    if actual is None or isinstance(actual, (dict, list)):
        return None
    if isinstance(expected, datetime):
        parsed = _parse_date(str(actual))
        return (parsed, expected) if parsed else None
    if isinstance(expected, (int, float)) and not isinstance(actual, bool):
        try:
            return float(actual), float(expected)
        except (TypeError, ValueError):
            return None
    return str(actual).lower(), str(expected).lower()


def _field(record: Record, path: str) -> Any:
    """The value at `a/b/c`, matching keys case-insensitively as ConnectWise does. A name
    that is not on the record is looked up in its `_info` (`lastUpdated`, `updatedBy`)."""
    parts = path.split("/")
    if _child(record, parts[0]) is None and isinstance(_child(record, "_info"), dict):
        parts = ["_info", *parts]
    value: Any = record
    for part in parts:
        value = _child(value, part)
    return value


def _child(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        return None
    return next((v for k, v in value.items() if k.lower() == name.lower()), None)


def _parse_date(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # ConnectWise dates are UTC


def _invalid(reason: str) -> SimError:
    # ConnectWise answers a condition it can't parse with a 400; the exact code is unconfirmed.
    return SimError(400, "InvalidObject", f"conditions are invalid: {reason}")
