"""The one list of the Database section's pages and report sections.

Tabs, admin URLs, `manage.py dbhealth --section`, findings collection (which finding kinds a
section owns), cache keys, tests and bench/dbhealth.py all read `SECTIONS`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError

from .checks.base import CHECKS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    name: str  # --section value, JSON key, cache key, tab id
    title: str  # tab label
    slug: str  # admin URL path under /admin/dbhealth/databasehealth/
    view: str  # function in apps/dbhealth/admin/views.py
    module: str = ""  # apps.dbhealth.checks.<module>, whose report() builds the section
    kinds: tuple[str, ...] = ()  # finding-kind prefixes the section owns (auto-resolved)
    cache_seconds: int | None = None  # None: PAGE_CACHE_SECONDS; 0: never cached
    command: bool = True  # offered by `manage.py dbhealth --section`

    @property
    def reported(self) -> bool:
        return bool(self.module)


SECTIONS: tuple[Section, ...] = (
    Section("overview", "Overview", "overview", "overview", "overview", ("database.",)),
    Section(
        "indexes",
        "Index usage",
        "indexes",
        "indexes",
        "indexes",
        ("index.", "fk."),
    ),
    Section("index_usage", "Index usage over time", "index-usage", "index_usage", command=False),
    Section(
        "tables",
        "Tables and partitions",
        "tables",
        "tables",
        "tables",
        ("table.", "partition.", "sequence.", "constraint.", "replication."),
    ),
    Section("queries", "Slow queries", "queries", "queries", "queries", ("settings",)),
    Section(
        "suggested_indexes",
        "Suggested indexes",
        "suggested-indexes",
        "suggested_indexes",
        "suggested_indexes",
        ("index.suggested",),
    ),
    Section(
        "activity",
        "Activity and locks",
        "activity",
        "activity",
        "activity",
        ("activity.",),
        cache_seconds=0,
    ),
    Section("matviews", "Materialized views", "matviews", "matviews", "matviews", ("matview.",)),
    Section(
        "quality", "Data quality", "quality", "quality", "quality", ("quality.",), cache_seconds=0
    ),
    Section("drift", "Schema drift", "drift", "drift", "drift", ("drift.",)),
    Section("findings", "Findings", "findings", "findings"),
)

BY_NAME = {s.name: s for s in SECTIONS}
TABS = [(s.name, s.title) for s in SECTIONS]
REPORTED = [s.name for s in SECTIONS if s.reported]
COMMAND_CHOICES = [s.name for s in SECTIONS if s.command]


def module(name: str):
    return importlib.import_module(f"apps.dbhealth.checks.{BY_NAME[name].module}")


def build(name: str, **kwargs: Any) -> dict[str, Any]:
    """A section's report: its module's report() plus the findings of its registered checks.

    A check that fails (timeout, permission) is listed under `skipped_checks`; its kind is then
    kept open rather than auto-resolved."""
    _load_checks()
    report = module(name).report(**kwargs)
    findings = report.setdefault("findings", [])
    skipped = report.setdefault("skipped_checks", [])
    for check in CHECKS.get(name, ()):
        try:
            findings.extend(c.as_dict() for c in check.run(report))
        except DatabaseError as exc:
            logger.warning("dbhealth check %s skipped: %s", check.run.__name__, exc)
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            skipped += [{"kind": kind, "error": error} for kind in check.kinds]
    return report


_loaded = False


def _load_checks() -> None:
    """Import every module of apps/dbhealth/checks once, so its @check functions register."""
    global _loaded
    if _loaded:
        return
    from . import checks

    for info in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{info.name}")
    _loaded = True
