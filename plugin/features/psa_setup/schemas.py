"""Response models of the PSA set-up routes."""

from __future__ import annotations

from pydantic import BaseModel


class BoardStatus(BaseModel):
    id: int
    name: str
    closed: bool
    inactive: bool
    default: bool


class BoardStatuses(BaseModel):
    items: list[BoardStatus]
    next_cursor: str | None = None


class BoardOut(BaseModel):
    id: int
    name: str


class BoardList(BaseModel):
    items: list[BoardOut]
    next_cursor: str | None = None


class DoctorLine(BaseModel):
    ok: bool
    what: str
    why: str = ""
    warning: bool = False


class DoctorReport(BaseModel):
    lines: list[DoctorLine]
    failures: int
