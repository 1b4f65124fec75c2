"""Reads of the Database section for pages, the command and /metrics (no writes).

Section reports come from the registry (apps/dbhealth/sections.py → apps/dbhealth/checks/*);
every `*_report()` returns a plain, JSON-friendly dict. Findings and the heartbeat are ORM reads.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.ops import selectors as ops_selectors

from . import conf, sections
from .cache import cache_clear, cache_key, cache_put, cached
from .checks.index_usage import index_history
from .checks.tables import partitions_page as table_partitions
from .models import SEVERITY_RANK, Finding, FindingStatus, OverviewSnapshot, Severity

__all__ = [
    "activity_report",
    "cache_clear",
    "cache_key",
    "cache_put",
    "cached",
    "critical_open_count",
    "finding_list",
    "findings_last_checked",
    "findings_open_counts",
    "heartbeat_age_seconds",
    "index_history",
    "index_report",
    "matview_report",
    "overview_report",
    "overview_snapshots",
    "quality_report",
    "query_report",
    "table_partitions",
    "table_report",
]


def overview_report() -> dict[str, Any]:
    return sections.build("overview")


SNAPSHOT_FIELDS = (
    "taken_at", "size_bytes", "heap_hit_ratio", "index_hit_ratio", "connections",
    "max_connections", "connection_utilisation", "redis_hits", "redis_misses",
    "request_queries_p50", "request_queries_p95", "request_samples",
)  # fmt: skip


def overview_snapshots(*, since, limit: int = 5_000) -> list[dict[str, Any]]:
    """Overview snapshots taken since `since`, oldest first (one query; 7 d is ~670 rows)."""
    rows = OverviewSnapshot.objects.filter(taken_at__gte=since).order_by("-taken_at")
    return list(reversed(rows.values(*SNAPSHOT_FIELDS)[:limit]))


def index_report() -> dict[str, Any]:
    return sections.build("indexes")


def table_report() -> dict[str, Any]:
    return sections.build("tables")


def query_report(order: str = "total", limit: int = 50, origin: str = "") -> dict[str, Any]:
    return sections.build("queries", order=order, limit=limit, origin=origin)


def activity_report() -> dict[str, Any]:
    return sections.build("activity")


def matview_report() -> dict[str, Any]:
    return sections.build("matviews")


def suggested_index_report() -> dict[str, Any]:
    return sections.build("suggested_indexes")


def drift_report() -> dict[str, Any]:
    return sections.build("drift")


def quality_report(history: int = 30) -> dict[str, Any]:
    return sections.build("quality", history=history)


# --- findings --------------------------------------------------------------------------------


def finding_list(*, include_closed: bool = False, limit: int = 500) -> list[Finding]:
    now = timezone.now()
    qs = Finding.objects.select_related("resolved_by")
    if not include_closed:
        qs = qs.filter(
            Q(status=FindingStatus.OPEN) | Q(status=FindingStatus.SNOOZED, snoozed_until__lte=now)
        )
    items = list(qs.order_by("-last_seen")[:limit])
    items.sort(
        key=lambda f: (
            f.status != FindingStatus.OPEN,
            -SEVERITY_RANK.get(f.severity, 0),
            f.kind,
            f.key,
        )
    )
    return items


def critical_open_count() -> int:
    return Finding.objects.filter(status=FindingStatus.OPEN, severity=Severity.CRITICAL).count()


def findings_last_checked():
    return Finding.objects.order_by("-last_seen").values_list("last_seen", flat=True).first()


def findings_open_counts() -> dict[str, int]:
    counts = {s: 0 for s in Severity.values}
    for row in (
        Finding.objects.filter(status=FindingStatus.OPEN).values("severity").annotate(n=Count("id"))
    ):
        counts[row["severity"]] = row["n"]
    return counts


def heartbeat_age_seconds() -> float | None:
    """Seconds since the beat heartbeat (apps.ops) was written; None if unknown or unreadable."""
    try:
        with transaction.atomic():  # a savepoint: a failed read never breaks the caller's
            age = ops_selectors.heartbeat_age(conf.get("HEARTBEAT_NAME"))
    except DatabaseError:
        return None
    return None if age is None else max(age.total_seconds(), 0.0)
