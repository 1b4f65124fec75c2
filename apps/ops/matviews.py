"""Registry of the materialized views this app maintains.

Read by the refresh service/command/tasks and by the DB-health pages (freshness = the last
successful `MatviewRefresh` of a view compared with its `staleness_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class MatviewSpec:
    name: str
    staleness_limit: timedelta
    model: str  # "app_label.ModelName" of the read-only model over the view
    description: str = ""


REGISTRY: dict[str, MatviewSpec] = {
    spec.name: spec
    for spec in (
        MatviewSpec(
            "workflow_summary",
            timedelta(minutes=30),
            "ops.WorkflowSummary",
            "Per workflow: tasks by status, progress, mean and p90 task duration.",
        ),
        MatviewSpec(
            "weekly_task_throughput",
            timedelta(hours=2),
            "ops.WeeklyTaskThroughput",
            "Per project and week: tasks created and completed, mean cycle time.",
        ),
        MatviewSpec(
            "template_effectiveness",
            timedelta(hours=2),
            "ops.TemplateEffectiveness",
            "Per template: usage, success rate, rank in its type, last use.",
        ),
        MatviewSpec(
            "workflow_extraction_summary",
            timedelta(hours=2),
            "ops.WorkflowExtractionSummary",
            "Per project: workflows with/without definition, node-count statistics.",
        ),
        MatviewSpec(
            "project_daily_stats",
            timedelta(minutes=30),
            "ops.ProjectDailyStats",
            "Per project and day (last 90 days): tasks created/completed, events by severity.",
        ),
        MatviewSpec(
            "form_completion_stats",
            timedelta(hours=1),
            "ops.FormCompletionStats",
            "Per form schema and day (last 30 days): submissions, completed, completion time.",
        ),
    )
}


def get_spec(name: str) -> MatviewSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown materialized view {name!r} (known: {known})") from None
