"""Writes of the events app: `event_log` and `metric_record`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.inputs import (
    finite_number,
    json_object,
    optional_aware,
    optional_id,
    optional_text,
    required_text,
)

from .models import Event, PerformanceMetric, Severity


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
