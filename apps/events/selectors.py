"""Reads of the events app. Every query is bounded on the partition key so it prunes partitions."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from functools import reduce

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from . import rollup
from .models import Event, EventHourCount, PerformanceMetric


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
    count reads only the partitions that window prunes to. `severity_counts_rolled` reads
    closed hours from the hourly roll-up instead: bench/events_chart.py measures both.
    """
    return _add_counts({}, severity_count_rows(events, bucket=bucket))


def _add_counts(counts: dict, rows) -> dict[datetime, dict[str, int]]:
    for at, severity, n in rows:
        per_bucket = counts.setdefault(at, {})
        per_bucket[severity] = per_bucket.get(severity, 0) + n
    return counts


HOUR = timedelta(hours=1)
# More marked hours than this in the window (a large back-dated import): count it all live.
MAX_MARKED_HOURS = 200


def _hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(at: datetime) -> datetime:
    floor = _hour_floor(at)
    return floor if floor == at else floor + HOUR


def rolled_range(
    *, since: datetime | None, until: datetime | None, using: str = DEFAULT_DB_ALIAS
) -> tuple | None:
    """The whole UTC hours of [since, until) the roll-up holds, and the marked ones among them:
    (lo, hi, marked), or None when it holds none of them (or too many are marked)."""
    with connections[using].cursor() as cursor:
        cursor.execute(rollup.CHART_STATE, {"limit": MAX_MARKED_HOURS + 1})
        rolled_from, rolled_through, marked = cursor.fetchone() or (None,) * 3
    if rolled_through is None or len(marked) > MAX_MARKED_HOURS:
        return None
    lo = max([rolled_from] + ([_hour_ceil(since)] if since else []))
    hi = min([rolled_through] + ([_hour_floor(until)] if until else []))
    return (lo, hi, [h for h in marked if lo <= h < hi]) if lo < hi else None


def severity_counts_rolled(
    events: QuerySet,
    *,
    since: datetime | None,
    until: datetime | None,
    severity: str | None = None,
    bucket: str = "hour",
) -> dict[datetime, dict[str, int]]:
    """`severity_counts(events)` for a list of every project's events in [since, until), at most
    one severity and nothing else filtered: the roll-up's whole, unmarked hours, the rest (the
    window's first partial hour, the last hour or so, marked hours) counted live."""
    covered = rolled_range(since=since, until=until, using=events.db)
    if covered is None:
        return severity_counts(events, bucket=bucket)
    lo, hi, marked = covered
    rolled = (
        EventHourCount.objects.using(events.db)
        .filter(hour__gte=lo, hour__lt=hi)
        .exclude(hour__in=marked)
    )
    if severity:
        rolled = rolled.filter(severity=severity)
    if bucket != "hour":  # an hour is its own bucket: no truncation to compute and convert
        rolled = rolled.annotate(bucket=BUCKETS[bucket]("hour", tzinfo=UTC))
    rows = (
        rolled.values_list("hour" if bucket == "hour" else "bucket", "severity")
        .annotate(n=Sum("events"))
        .order_by()
    )
    live = [Q(created_at__lt=lo), Q(created_at__gte=hi)] + [
        Q(created_at__gte=h, created_at__lt=h + HOUR) for h in marked
    ]
    live_rows = severity_count_rows(events.filter(reduce(operator.or_, live)), bucket=bucket)
    return _add_counts({}, rows.union(live_rows, all=True))
