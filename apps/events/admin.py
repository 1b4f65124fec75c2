from datetime import timedelta

from django.contrib import admin
from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncDay, TruncHour

from apps.core import charts
from apps.core.admin.partitioned import PartitionedShadowAdmin
from apps.core.admin.scoping import request_scope
from apps.core.units import MISSING, human_bytes, human_count, human_ms
from apps.pg.partitioning.admin import DEFAULT_WINDOW, WINDOWS, date_window_filter, window_bounds

from .models import EventRow, PerformanceMetricRow, Severity
from .selectors import severity_counts, severity_counts_rolled

# Windows short enough for one column per hour; longer ones get one per day.
HOURLY_WINDOWS = ("24h", "7d")
# Sparklines drawn per (component, metric): the busiest first.
MAX_METRIC_SERIES = 24
# The filters the hourly roll-up can answer (every project's events of a window, per severity).
ROLLED_FILTERS = {"window", "severity__exact"}


def _window(request) -> str:
    """The list's window as its filter reads it (anything unknown is the default)."""
    value = request.GET.get("window", DEFAULT_WINDOW)
    return value if value in WINDOWS else DEFAULT_WINDOW


def _buckets(request):
    return (TruncHour, "%m-%d %H:00") if _window(request) in HOURLY_WINDOWS else (TruncDay, "%m-%d")


def _time_axis(request, counts: dict, step: timedelta) -> list:
    """Every bucket from the window's start (or the first event) to the last one, empty ones
    included, so the x axis is time and a quiet hour shows as a gap."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    bounds = window_bounds(_window(request))
    if bounds is not None:
        start = bounds[0].replace(minute=0, second=0, microsecond=0)
        if step >= timedelta(days=1):
            start = start.replace(hour=0)
        first = min(first, start.astimezone(first.tzinfo))
    axis, at = [], first
    while at <= last and len(axis) < 10_000:
        axis.append(at)
        at += step
    return axis


def _changelist(response):
    context = getattr(response, "context_data", None) or {}
    return context.get("cl")


def _changelist_queryset(response):
    """The list's own filtered queryset (time window, filters, search): a chart reads the
    partitions that window prunes to, nothing more."""
    cl = _changelist(response)
    return None if cl is None else cl.queryset


def _rolled_severity(request, cl) -> tuple[bool, str | None]:
    """(whether the roll-up can count this list, the severity it is filtered to)."""
    params = cl.get_filters_params()
    if (
        cl.query
        or getattr(cl, "cursor_token", "")  # an "Older" page: the rows before its cursor only
        or not request_scope(request).everything
        or set(params) - ROLLED_FILTERS
    ):
        return False, None
    severities = params.get("severity__exact") or [None]
    if len(severities) != 1:  # several values are OR-ed by the list: count that live
        return False, None
    return severities[0] in (None, *Severity.values), severities[0]


@admin.register(EventRow)
class EventAdmin(PartitionedShadowAdmin):
    project_lookup = "project_id"

    def filter_by_projects(self, queryset, project_ids):
        # An event names its project, its workflow, or both (as the row-level policy reads it).
        return queryset.filter(
            Q(project_id__in=project_ids) | Q(workflow__project_id__in=project_ids)
        )

    list_display = (
        "created_at",
        "severity",
        "event_type",
        "source_component",
        "target_component",
        "workflow",
        "task",
        "correlation_id",
    )
    list_filter = (date_window_filter("created_at"), "severity")
    list_select_related = ("workflow", "task")
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    exact_search_fields = ("event_type", "correlation_id", "trace_id")
    search_help_text = (
        "Exact match (index lookups, no partial words): an event type such as task.completed, "
        "a correlation id, a trace id, or an event id."
    )
    raw_id_fields = ("project", "workflow", "task")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = _changelist(response)
        if cl is not None:
            response.context_data["events_chart"] = self.severity_chart(request, cl)
        return response

    def severity_chart(self, request, cl):
        """Events per hour (or day) by severity, one stacked column per bucket: the list's own
        rows (window, filters, search, project scope), closed hours from the hourly roll-up
        where that counts the same rows."""
        trunc, fmt = _buckets(request)
        hourly = trunc is TruncHour
        step = timedelta(hours=1) if hourly else timedelta(days=1)
        bucket = "hour" if hourly else "day"
        rolled, severity = _rolled_severity(request, cl)
        if rolled:
            since, until = window_bounds(_window(request)) or (None, None)
            counts = severity_counts_rolled(
                cl.queryset, since=since, until=until, severity=severity, bucket=bucket
            )
        else:
            counts = severity_counts(cl.queryset, bucket=bucket)
        buckets = _time_axis(request, counts, step)
        return charts.stacked_bars(
            [b.strftime(fmt) for b in buckets],
            [
                (label, f"fb-s-{value}", [counts.get(b, {}).get(value, 0) for b in buckets])
                for value, label in Severity.choices
            ],
            unit="events",
        )


@admin.register(PerformanceMetricRow)
class PerformanceMetricAdmin(PartitionedShadowAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = ("recorded_at", "component", "metric_name", "value_display", "tags")
    list_filter = (date_window_filter("recorded_at"),)
    ordering = ("-recorded_at",)
    sortable_by = ("recorded_at",)
    exact_search_fields = ("component", "metric_name")
    search_help_text = "Exact match: a component name or a metric name, or a metric id."

    @admin.display(description="Value", ordering="value")
    def value_display(self, obj: PerformanceMetricRow) -> str:
        return human_value(obj.value, obj.unit)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        qs = _changelist_queryset(response)
        if qs is not None:
            response.context_data["metric_sparklines"] = self.sparklines(request, qs)
        return response

    def sparklines(self, request, qs) -> list[dict]:
        """Per component and metric: the hourly (or daily) mean over the window."""
        trunc, _fmt = _buckets(request)
        rows = (
            qs.order_by()
            .annotate(bucket=trunc("recorded_at"))
            .values("component", "metric_name", "unit", "bucket")
            .annotate(mean=Avg("value"), n=Count("id"))
            .order_by("component", "metric_name", "bucket")
        )
        series: dict = {}
        for r in rows:
            s = series.setdefault(
                (r["component"], r["metric_name"]),
                {"component": r["component"], "metric": r["metric_name"], "unit": r["unit"],
                 "values": [], "samples": 0},
            )  # fmt: skip
            s["values"].append(r["mean"])
            s["samples"] += r["n"]
        out = sorted(series.values(), key=lambda s: -s["samples"])[:MAX_METRIC_SERIES]
        for s in out:
            unit = s["unit"]
            s["chart"] = charts.sparkline(s["values"], label=lambda v, u=unit: human_value(v, u))
            s["last"] = human_value(s["values"][-1], unit)
        return sorted(out, key=lambda s: (s["component"], s["metric"]))


def human_value(value, unit: str) -> str:
    """A metric value in its unit, readable: 1057714 ms → 17.6 min, 2048 bytes → 2.0 KiB."""
    if value is None:
        return MISSING
    unit = (unit or "").lower()
    if unit == "ms":
        return human_ms(value)
    if unit in ("s", "sec", "seconds"):
        return human_ms(value * 1000)
    if unit in ("b", "bytes"):
        return human_bytes(value)
    if unit in ("%", "percent"):
        return f"{value:,.1f} %"
    return f"{human_count(value)} {unit}".strip()
