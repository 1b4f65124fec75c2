"""Writes of the events app: `event_log`, `metric_record` and the chart's `event_counts_roll_up`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from apps.core.inputs import (
    finite_number,
    json_object,
    optional_aware,
    optional_id,
    optional_text,
    required_text,
)
from apps.pg import catalog

from . import rollup
from .models import Event, EventCountRollup, PerformanceMetric, Severity


@transaction.atomic
def event_log(
    *,
    event_type: str,
    source_component: str,
    severity: str = Severity.INFO,
    target_component: str = "",
    project_id: int | None = None,
    workflow_id: int | None = None,
    task_id: int | None = None,
    payload: dict[str, Any] | None = None,
    correlation_id: str = "",
    trace_id: str = "",
    created_at: datetime | None = None,
) -> Event:
    """Append one event. `created_at` defaults to the database clock (backfills may pass one)."""
    if severity not in Severity.values:
        raise ValidationError(
            f"Event severity {severity!r} is not one of: {', '.join(Severity.values)}"
        )
    fields: dict[str, Any] = {
        "event_type": required_text(event_type, what="Event event_type", max_length=100),
        "source_component": required_text(
            source_component, what="Event source_component", max_length=100
        ),
        "severity": severity,
        "target_component": optional_text(
            target_component, what="Event target_component", max_length=100
        ),
        "project_id": optional_id(project_id, what="Event project_id"),
        "workflow_id": optional_id(workflow_id, what="Event workflow_id"),
        "task_id": optional_id(task_id, what="Event task_id"),
        "payload": json_object(payload, what="Event payload"),
        "correlation_id": optional_text(
            correlation_id, what="Event correlation_id", max_length=100
        ),
        "trace_id": optional_text(trace_id, what="Event trace_id", max_length=100),
    }
    if optional_aware(created_at, what="Event created_at") is not None:
        fields["created_at"] = created_at
    return Event.objects.create(**fields)


@transaction.atomic
def metric_record(
    *,
    component: str,
    metric_name: str,
    value: float,
    unit: str = "",
    tags: dict[str, Any] | None = None,
    recorded_at: datetime | None = None,
) -> PerformanceMetric:
    """Append one metric sample, e.g. metric_record(component="codegen", metric_name="files", value=150, unit="count")."""
    fields: dict[str, Any] = {
        "component": required_text(component, what="Metric component", max_length=100),
        "metric_name": required_text(metric_name, what="Metric metric_name", max_length=100),
        "value": finite_number(value, what="Metric value"),
        "unit": optional_text(unit, what="Metric unit", max_length=20),
        "tags": json_object(tags, what="Metric tags"),
    }
    if optional_aware(recorded_at, what="Metric recorded_at") is not None:
        fields["recorded_at"] = recorded_at
    return PerformanceMetric.objects.create(**fields)


# An hour is rolled up once it ended SETTLE ago; later runs recount it for REDO more, so a
# write that commits a little late is counted (one open longer than that is not).
SETTLE = rollup.SETTLE
REDO = timedelta(hours=1)
CHUNK = timedelta(days=7)  # hours counted per transaction on a first (or re-)run


@dataclass
class RollupReport:
    outcome: str  # "done" | "skipped" (another run holds the state row) | "empty"
    hours_recounted: int = 0
    marks_taken: int = 0
    rolled_from: datetime | None = None
    rolled_through: datetime | None = None


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _locked_state() -> EventCountRollup | None:
    """The state row, locked (None: another run holds it), after the events table's lock."""
    _execute([rollup.LOCK_EVENTS], {})
    EventCountRollup.objects.get_or_create(pk=1)
    return EventCountRollup.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def _execute(statements: list[str], params: dict) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)


def _recount(lo: datetime, hi: datetime, report: RollupReport) -> None:
    """Take the visible marks of [lo, hi), then count the range afresh."""
    if lo >= hi:
        return
    with connection.cursor() as cursor:
        cursor.execute(rollup.TAKE_MARKS, {"lo": lo, "hi": hi})
        report.marks_taken += cursor.rowcount
    _execute(rollup.RECOUNT_RANGE, {"lo": lo, "hi": hi})
    report.hours_recounted += int((hi - lo) / timedelta(hours=1))


def _follow_the_table(state: EventCountRollup, report: RollupReport) -> None:
    """Match the covered range to the table: start at its oldest row (older rows written since
    are counted; a detached partition's hours leave), and recount the range of a partition
    attached since the last run."""
    with connection.cursor() as cursor:
        cursor.execute(rollup.OLDEST_HOUR)
        oldest = cursor.fetchone()[0]
    attached = catalog.partition_list(Event._meta.db_table)
    known = None if state.partitions is None else set(state.partitions)
    state.partitions = sorted(p.name for p in attached)
    if oldest is None:
        _execute([rollup.FORGET_ALL], {})
        state.rolled_from = state.rolled_through = None
        report.outcome = "empty"
        return
    if state.rolled_from is None:
        state.rolled_from = state.rolled_through = oldest
        return
    _execute([rollup.DROP_STALE_MARKS], {"lo": oldest})
    if oldest < state.rolled_from:
        _recount(oldest, state.rolled_from, report)
    elif oldest > state.rolled_from:
        _execute([rollup.FORGET_BEFORE], {"lo": oldest})
        state.rolled_through = max(state.rolled_through, oldest)
    state.rolled_from = oldest
    for part in attached:
        if known is None or part.name in known:
            continue
        if part.is_default:  # rows of any time: count everything again
            _recount(state.rolled_from, state.rolled_through, report)
            break
        _recount(
            max(part.range_from, state.rolled_from),
            min(part.range_to, state.rolled_through),
            report,
        )


def event_counts_forget(
    *,
    range_from: datetime,
    range_to: datetime,
    partition: str = "",
    using: str = DEFAULT_DB_ALIAS,
    **_signal,
) -> int:
    """Drop the counted hours of [range_from, range_to) (a detached partition's: the chart then
    shows them empty, as the table now is) and forget the partition was attached, so that
    attaching it again recounts them. Returns the rows dropped."""
    with connections[using].cursor() as cursor:
        cursor.execute(rollup.FORGET_RANGE, {"lo": range_from, "hi": range_to})
        dropped = cursor.rowcount
        if partition:
            cursor.execute(rollup.FORGET_PARTITION, {"name": partition})
        return dropped


def event_counts_roll_up(*, now: datetime | None = None) -> RollupReport:
    """Count the events of closed hours into EventHourCount (resumable: one transaction per
    CHUNK, each moving `rolled_through` on), recount marked hours, and the last REDO again."""
    target = _floor_hour((now or timezone.now()) - SETTLE)
    report = RollupReport("done")
    with transaction.atomic():
        state = _locked_state()
        if state is None:
            return RollupReport("skipped")
        _follow_the_table(state, report)
        if report.outcome == "done":
            with connection.cursor() as cursor:
                cursor.execute(
                    rollup.TAKE_MARKS, {"lo": state.rolled_from, "hi": state.rolled_through}
                )
                marked = sorted({hour for (hour,) in cursor.fetchall()})
            report.marks_taken += len(marked)
            if marked:
                _execute(rollup.RECOUNT_HOURS, {"hours": marked})
                report.hours_recounted += len(marked)
        state.save()
    while report.outcome == "done":
        with transaction.atomic():
            state = _locked_state()
            if state is None:
                return RollupReport("skipped")
            lo = max(state.rolled_from, state.rolled_through - REDO)
            hi = max(min(state.rolled_through + CHUNK, target), state.rolled_through)
            _recount(lo, hi, report)
            state.rolled_through, state.rolled_at = hi, timezone.now()
            state.save()
        if hi >= target:
            break
    report.rolled_from, report.rolled_through = state.rolled_from, state.rolled_through
    return report
