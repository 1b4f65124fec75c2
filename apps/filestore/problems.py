"""Problems found while reading a file: where (path + JSON pointer, line/column for bad JSON) and what."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


def pointer(*parts: str | int) -> str:
    """RFC 6901 JSON pointer from raw path parts: pointer("master", "tasks", 3) == "/master/tasks/3"."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def child(base: str, *parts: str | int) -> str:
    return base + pointer(*parts)


@dataclass(frozen=True)
class Problem:
    path: str
    pointer: str
    message: str
    severity: Severity = "error"
    entity: str = "file"
    line: int | None = None
    column: int | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None}

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where} {self.pointer or '/'}: {self.severity}: {self.message}"


class Problems:
    """Collects the problems of one file (the first LIMIT of them; the rest are only counted)."""

    LIMIT = 500

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Problem] = []
        self.unlisted = {"error": 0, "warning": 0}

    def _add(self, problem: Problem) -> None:
        if len(self.items) >= self.LIMIT:
            self.unlisted[problem.severity] += 1
        else:
            self.items.append(problem)

    def error(self, ptr: str, message: str, *, entity: str = "file", **where) -> None:
        self._add(Problem(self.path, ptr, message, "error", entity, **where))

    def warning(self, ptr: str, message: str, *, entity: str = "file") -> None:
        self._add(Problem(self.path, ptr, message, "warning", entity))

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.unlisted["error"])

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def promote_warnings(self) -> None:
        """--strict: every warning becomes an error."""
        self.items = [
            Problem(p.path, p.pointer, p.message, "error", p.entity, p.line, p.column)
            for p in self.items
        ]
        self.unlisted = {"error": sum(self.unlisted.values()), "warning": 0}
