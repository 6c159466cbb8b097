"""Failure modes to rehearse against the simulator: injected error answers, latency, dropped
connections. Set from tests directly (`state.faults`) or through the `/_sim/` admin API."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InjectedFault:
    status: int
    remaining: int
    retry_after: float | None = None
    method: str | None = None  # only requests with this method, when set
    path: str | None = None  # only API paths containing this text, when set

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and (
            self.path is None or self.path in path
        )


@dataclass
class Faults:
    queued: list[InjectedFault] = field(default_factory=list)
    latency: float = 0.0  # seconds added before every answer
    drop_after_note_stored: int = 0  # store the next N notes, then close without answering
    down: bool = False  # close every connection without answering

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.queued.append(InjectedFault(status, count, retry_after, method, path))

    def take(self, method: str, path: str) -> InjectedFault | None:
        for fault in self.queued:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.queued.remove(fault)
                return fault
        return None

    def reset(self) -> None:
        self.queued.clear()
        self.latency = 0.0
        self.drop_after_note_stored = 0
        self.down = False
