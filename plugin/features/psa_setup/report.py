"""A set-up run's lines: each action or check, ok or failed, as the CLI prints them and an
admin page could show them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Line:
    ok: bool
    what: str
    why: str = ""
    warning: bool = False  # ok, yet worth fixing (not a failure)

    def __str__(self) -> str:
        if self.warning:
            return f"WARN {self.what}: {self.why}"
        return f"ok   {self.what}" if self.ok else f"FAIL {self.what}: {self.why}"


@dataclass
class Report:
    on_line: Callable[[Line], None] = lambda line: None
    lines: list[Line] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(not line.ok for line in self.lines)

    def ok(self, what: str) -> None:
        self._add(Line(True, what))

    def warn(self, what: str, why: str) -> None:
        self._add(Line(True, what, why, warning=True))

    def fail(self, what: str, why: str) -> None:
        self._add(Line(False, what, why))

    def _add(self, line: Line) -> None:
        self.lines.append(line)
        self.on_line(line)
