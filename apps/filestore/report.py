"""The import report: per file and per entity counts, problems, durations (stdout and --report JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.filestore.problems import Problem

ENTITIES = ("project", "workflow", "task", "dependency", "connection", "article", "template")
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "deleted", "warnings", "errors")


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    warnings: int = 0
    errors: int = 0

    def add(self, other: Counts) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def bump(self, outcome: str, n: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in COUNTS}


@dataclass
class FileReport:
    path: str
    kind: str
    project: str | None = None
    # imported | unchanged | planned (dry run) | failed | not_written (--strict, another file failed)
    status: str = "pending"
    duration_s: float = 0.0
    entities: dict[str, Counts] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unlisted: int = 0  # problems beyond the listed ones (Problems.LIMIT)

    def counts(self, entity: str) -> Counts:
        return self.entities.setdefault(entity, Counts())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def attach(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)
        for problem in problems:
            entity = problem.entity if problem.entity in ENTITIES else "file"
            if entity == "file":
                continue
            self.counts(entity).bump("errors" if problem.severity == "error" else "warnings")

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "project": self.project,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "entities": {name: c.as_dict() for name, c in self.entities.items()},
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            **({"problems_not_listed": self.unlisted} if self.unlisted else {}),
        }


@dataclass
class ImportReport:
    dry_run: bool
    strict: bool
    prune: bool
    files: list[FileReport] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(f.status not in {"failed", "not_written"} for f in self.files)

    def totals(self) -> dict[str, Counts]:
        totals: dict[str, Counts] = {}
        for f in self.files:
            for name, counts in f.entities.items():
                totals.setdefault(name, Counts()).add(counts)
        return totals

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "strict": self.strict,
            "prune": self.prune,
            "duration_s": round(self.duration_s, 3),
            "files": [f.as_dict() for f in self.files],
            "totals": {name: c.as_dict() for name, c in self.totals().items()},
        }

    def summary_lines(self) -> list[str]:
        lines = []
        for f in self.files:
            lines.append(f"{f.path} [{f.kind}] {f.status} in {f.duration_s:.2f} s")
            for name, c in f.entities.items():
                parts = ", ".join(f"{k} {v}" for k, v in c.as_dict().items() if v)
                lines.append(f"  {name}: {parts or 'nothing'}")
            for problem in f.errors + f.warnings:
                lines.append(f"  {problem}")
        verb = "would be" if self.dry_run else "were"
        failed = sum(f.status in {"failed", "not_written"} for f in self.files)
        lines.append(
            f"{len(self.files)} file(s), {failed} not imported; totals ({verb} written) in "
            f"{self.duration_s:.2f} s:"
        )
        for name, c in self.totals().items():
            parts = ", ".join(f"{k} {v}" for k, v in c.as_dict().items() if v)
            lines.append(f"  {name}: {parts or 'nothing'}")
        return lines
