"""Reads of the runs app, bounded on the partition keys."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .models import NodeExecution, WorkflowRun


def workflow_run_list(
    *, workflow_id: int, since: datetime, until: datetime | None = None
) -> QuerySet[WorkflowRun]:
    return WorkflowRun.objects.filter(
        workflow_id=workflow_id, started_at__gte=since, started_at__lt=until or timezone.now()
    ).order_by("-started_at", "-id")


def node_execution_list(*, run: WorkflowRun) -> QuerySet[NodeExecution]:
    """A run's node executions. Nodes start no earlier than their run (a CHECK says so), which
    bounds the partition key from below: older partitions are pruned."""
    return NodeExecution.objects.filter(
        run_id=run.id, run_started_at=run.started_at, started_at__gte=run.started_at
    ).order_by("started_at", "id")
