"""Reads of the events app. Every query is bounded on the partition key so it prunes partitions."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from .models import Event, PerformanceMetric


def event_window(
    *,
    since: datetime,
    until: datetime | None = None,
    workflow_id: int | None = None,
    task_id: int | None = None,
    severities: list[str] | None = None,
    correlation_id: str | None = None,
) -> QuerySet[Event]:
    """Events in [since, until) (until defaults to now), newest first."""
    qs = Event.objects.filter(created_at__gte=since, created_at__lt=until or timezone.now())
    if workflow_id is not None:
        qs = qs.filter(workflow_id=workflow_id)
    if task_id is not None:
        qs = qs.filter(task_id=task_id)
    if severities:
        qs = qs.filter(severity__in=severities)
    if correlation_id:
        qs = qs.filter(correlation_id=correlation_id)
    return qs.order_by("-created_at", "-id")


def metric_series(
    *, component: str, metric_name: str, since: datetime, until: datetime | None = None
) -> QuerySet[PerformanceMetric]:
    """One metric's samples in [since, until), oldest first (index component, metric_name, time)."""
    return PerformanceMetric.objects.filter(
        component=component,
        metric_name=metric_name,
        recorded_at__gte=since,
        recorded_at__lt=until or timezone.now(),
    ).order_by("recorded_at", "id")


BUCKETS = {"hour": TruncHour, "day": TruncDay}


def severity_count_rows(events: QuerySet, *, bucket: str = "hour") -> QuerySet:
    """(bucket start, severity, n) rows of `events` per UTC hour (or day): the query itself,
    for callers that EXPLAIN it."""
    return (
        events.order_by()
        .annotate(bucket=BUCKETS[bucket]("created_at", tzinfo=UTC))
        .values_list("bucket", "severity")
        .annotate(n=Count("*"))
    )


def severity_counts(events: QuerySet, *, bucket: str = "hour") -> dict[datetime, dict[str, int]]:
    """Events per UTC hour (or day) and severity: {bucket start: {severity: n}}.

    `events` is an already bounded queryset of events (or of their admin shadow): the admin
    passes its changelist's own rows (time window, filters, search, project scope), so the
    count reads only the partitions that window prunes to. Read live rather than from the
    daily rollup (project_daily_stats): bench/events_chart.py measures both.
    """
    counts: dict[datetime, dict[str, int]] = {}
    for at, severity, n in severity_count_rows(events, bucket=bucket):
        counts.setdefault(at, {})[severity] = n
    return counts
