from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, F, Q, Sum

from apps.tasks.models import Task, TaskDependency, TaskStatus

from .models import Workflow


def workflow_analytics(*, workflow: Workflow) -> dict[str, Any]:
    """Tasks by status, effort, completion time and dependency blockers of one workflow."""
    tasks = Task.objects.filter(workflow=workflow)
    by_status = dict(tasks.values_list("status").annotate(n=Count("id")).order_by())
    totals = tasks.aggregate(
        estimated=Sum("estimated_effort"),
        actual=Sum("actual_effort"),
        mean_hours_to_done=Avg(
            F("completed_at") - F("created_at"), filter=Q(status=TaskStatus.DONE)
        ),
    )
    blocked_by_open = (
        TaskDependency.objects.filter(task__workflow=workflow)
        .exclude(depends_on__status__in=[TaskStatus.DONE, TaskStatus.CANCELLED])
        .values("task_id")
        .distinct()
        .count()
    )
    mean = totals["mean_hours_to_done"]
    return {
        "tasks_by_status": {status: by_status.get(status, 0) for status in TaskStatus.values},
        "tasks_total": sum(by_status.values()),
        # Read fresh: the roll-up triggers may have moved it since `workflow` was loaded.
        "progress": float(Workflow.objects.values_list("progress", flat=True).get(pk=workflow.pk)),
        "estimated_effort": float(totals["estimated"] or 0),
        "actual_effort": float(totals["actual"] or 0),
        "mean_hours_to_done": round(mean.total_seconds() / 3600, 2) if mean else None,
        "tasks_waiting_on_open_dependencies": blocked_by_open,
    }
