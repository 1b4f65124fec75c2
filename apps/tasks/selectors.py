from __future__ import annotations

from django.db.models import QuerySet

from .models import Task


def task_list(
    *, workflow_id: int | None = None, status: str | None = None, top_level_only: bool = False
) -> QuerySet[Task]:
    """Tasks in the order the (workflow, status, priority) index serves."""
    qs = Task.objects.select_related("workflow")
    if workflow_id is not None:
        qs = qs.filter(workflow_id=workflow_id)
    if status is not None:
        qs = qs.filter(status=status)
    if top_level_only:
        qs = qs.filter(parent__isnull=True)
    return qs.order_by("workflow_id", "status", "-priority", "id")
