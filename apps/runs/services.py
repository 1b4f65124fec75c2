"""Writes of the runs app: workflow runs, node executions, form schemas and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.inputs import json_object, optional_aware, optional_text, required_text
from apps.workflows.models import Workflow

from .models import (
    FormResponse,
    FormSchema,
    NodeExecution,
    NodeStatus,
    RunStatus,
    WorkflowRun,
)

FINAL_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def _duration_ms(started_at: datetime, completed_at: datetime | None) -> int | None:
    if completed_at is None:
        return None
    if completed_at < started_at:
        raise ValidationError(
            f"completed_at {completed_at.isoformat()} is before started_at {started_at.isoformat()}"
        )
    return int((completed_at - started_at).total_seconds() * 1000)


@transaction.atomic
def workflow_run_start(
    *,
    workflow_id: int,
    trigger_data: dict[str, Any] | None = None,
    started_at: datetime | None = None,
) -> WorkflowRun:
    """A new run in status 'running'. There is no database FK, so the workflow is checked here."""
    if not Workflow.objects.filter(id=workflow_id).exists():
        raise ValidationError(f"Workflow run: workflow {workflow_id!r} does not exist")
    fields: dict[str, Any] = {
        "workflow_id": workflow_id,
        "status": RunStatus.RUNNING,
        "trigger_data": json_object(trigger_data, what="Workflow run trigger_data"),
    }
    if optional_aware(started_at, what="Workflow run started_at") is not None:
        fields["started_at"] = started_at
    return WorkflowRun.objects.create(**fields)


@transaction.atomic
def workflow_run_finish(
    *,
    run: WorkflowRun,
    status: str,
    error: str = "",
    completed_at: datetime | None = None,
) -> WorkflowRun:
    """Close a pending/running run with a final status; refuses to close it twice."""
    if status not in FINAL_RUN_STATUSES:
        raise ValidationError(
            f"Workflow run {run.id}: final status must be one of "
            f"{', '.join(FINAL_RUN_STATUSES)}, not {status!r}"
        )
    completed_at = optional_aware(completed_at, what="Workflow run completed_at") or timezone.now()
    duration = _duration_ms(run.started_at, completed_at)
    error = optional_text(error, what="Workflow run error", max_length=100_000)
    updated = WorkflowRun.objects.filter(
        pk=(run.started_at, run.id), status__in=[RunStatus.PENDING, RunStatus.RUNNING]
    ).update(status=status, completed_at=completed_at, duration_ms=duration, error=error)
    if not updated:
        raise ValidationError(
            f"Workflow run {run.id} is not pending or running (already finished?)"
        )
    run.status, run.completed_at, run.duration_ms, run.error = status, completed_at, duration, error
    return run


@transaction.atomic
def node_execution_record(
    *,
    run: WorkflowRun,
    node_id: str,
    node_type: str,
    status: str,
    input: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    error: str = "",
) -> NodeExecution:
    if status not in NodeStatus.values:
        raise ValidationError(
            f"Node execution {node_id!r}: status {status!r} is not one of: "
            f"{', '.join(NodeStatus.values)}"
        )
    started_at = optional_aware(started_at, what="Node execution started_at") or timezone.now()
    if started_at < run.started_at:
        raise ValidationError(
            f"Node execution {node_id!r} cannot start before its run {run.id} "
            f"({run.started_at.isoformat()})"
        )
    completed_at = optional_aware(completed_at, what="Node execution completed_at")
    return NodeExecution.objects.create(
        run_id=run.id,
        run_started_at=run.started_at,
        node_id=required_text(node_id, what="Node execution node_id", max_length=100),
        node_type=required_text(node_type, what="Node execution node_type", max_length=100),
        status=status,
        input=json_object(input, what="Node execution input"),
        output=json_object(output, what="Node execution output"),
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=_duration_ms(started_at, completed_at),
        error=optional_text(error, what="Node execution error", max_length=100_000),
    )


@transaction.atomic
def form_schema_publish(*, name: str, schema: dict[str, Any]) -> FormSchema:
    """A new version (previous + 1) of the named form; concurrent publishers are serialized by
    the unique (name, version) constraint (one of them gets IntegrityError and may retry)."""
    name = required_text(name, what="Form schema name", max_length=200)
    schema = json_object(schema, what="Form schema schema", allow_none=False)
    latest = FormSchema.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
    return FormSchema.objects.create(name=name, version=latest + 1, schema=schema)


@transaction.atomic
def form_response_submit(
    *,
    form_schema: FormSchema,
    data: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    run: WorkflowRun | None = None,
    submitted_at: datetime | None = None,
) -> FormResponse:
    fields: dict[str, Any] = {
        "form_schema": form_schema,
        "data": json_object(data, what="Form response data", allow_none=False),
        "metadata": json_object(metadata, what="Form response metadata"),
        "workflow_run_id": run.id if run is not None else None,
        "workflow_run_started_at": run.started_at if run is not None else None,
    }
    if optional_aware(submitted_at, what="Form response submitted_at") is not None:
        fields["submitted_at"] = submitted_at
    return FormResponse.objects.create(**fields)
