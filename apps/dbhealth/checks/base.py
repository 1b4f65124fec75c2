"""What every check module shares: the finding candidate, the check registry, small formatters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..models import Severity

__all__ = ["CHECKS", "FindingCandidate", "Severity", "check", "finding", "size"]


@dataclass
class FindingCandidate:
    key: str
    kind: str
    severity: str
    object_name: str
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    suggested_fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def finding(
    kind: str,
    obj: str,
    title: str,
    *,
    severity: str = Severity.WARNING,
    evidence: dict[str, Any] | None = None,
    fix: str = "",
    key: str | None = None,
) -> FindingCandidate:
    """A candidate keyed `<kind>:<object>` (the key findings are upserted and resolved by)."""
    return FindingCandidate(
        key=key or f"{kind}:{obj}",
        kind=kind,
        severity=severity,
        object_name=obj,
        title=title,
        evidence=evidence or {},
        suggested_fix=fix,
    )


@dataclass(frozen=True)
class Check:
    section: str
    kinds: tuple[str, ...]
    run: Callable[[dict], Iterable[FindingCandidate]]


# section name → the checks that add findings to that section's report.
CHECKS: dict[str, list[Check]] = defaultdict(list)


def check(section: str, *kinds: str):
    """Register `fn(report) -> findings` under a section; `kinds` are the finding kinds it owns
    (when the check fails, their open findings are kept rather than auto-resolved)."""

    def register(fn):
        CHECKS[section].append(Check(section, kinds, fn))
        return fn

    return register


def size(n: int | None) -> str:
    n = float(n or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
