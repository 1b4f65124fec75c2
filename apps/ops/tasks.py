"""Celery tasks: plain arguments in, one service call, a JSON-able summary out.

All are idempotent and safe to overlap (the services lock/lease); transient database errors
(OperationalError, InterfaceError: lock timeouts, lost connections) are retried with backoff.
"""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import RETRYING

from . import services
from .dispatch import FailFastTask
from .matviews import REGISTRY


def _refresh_summary(record) -> dict:
    return {
        "view": record.view_name,
        "outcome": record.outcome,
        "rows": record.rows,
        "duration_ms": record.duration_ms,
        "concurrently": record.concurrently,
        "error": record.error,
    }


class RefreshTask(FailFastTask):
    interactive_fallback = "Try again once it is back, or run: python manage.py refresh_views {0}"


@shared_task(
    name="apps.ops.tasks.refresh_matview_task",
    base=RefreshTask,  # "Refresh now" calls delay(): it must fail fast when Redis is down
    soft_time_limit=10 * 60,
    time_limit=12 * 60,
    **RETRYING,
)
def refresh_matview_task(name: str, concurrently: bool | None = None) -> dict:
    return _refresh_summary(services.matview_refresh(name=name, concurrently=concurrently))


@shared_task(
    name="apps.ops.tasks.refresh_matviews_task", soft_time_limit=60, time_limit=90, **RETRYING
)
def refresh_matviews_task() -> list[str]:
    """Fan out: one refresh task per registered view (each skips if its view is busy)."""
    for name in REGISTRY:
        refresh_matview_task.apply_async((name,))  # from the worker: Celery's send retries
    return list(REGISTRY)


@shared_task(
    name="apps.ops.tasks.archive_task", soft_time_limit=25 * 60, time_limit=30 * 60, **RETRYING
)
def archive_task(
    older_than_days: int | None = None,
    batch_size: int | None = None,
    max_seconds: float = 20 * 60,
    pause_seconds: float | None = None,
) -> dict:
    """Redelivered after a crash, it takes the dead run's lease over and continues."""
    run = services.archive_run(
        older_than_days=older_than_days,
        apply=True,
        batch_size=batch_size,
        max_seconds=max_seconds,
        pause_seconds=pause_seconds,
    )
    return {
        "run": run.pk,
        "outcome": run.outcome,
        "batches": run.batches,
        "workflows": run.workflows_moved,
        "tasks": run.tasks_moved,
        "dependencies": run.dependencies_moved,
        "reconciled": run.reconciled,
    }


@shared_task(
    name="apps.ops.tasks.maintain_task", soft_time_limit=25 * 60, time_limit=30 * 60, **RETRYING
)
def maintain_task(apply: bool = True) -> dict:
    rows = services.maintenance_run(apply=apply)
    return {row.step: {"outcome": row.outcome, "rows": row.rows_touched} for row in rows}


@shared_task(
    name="apps.ops.tasks.partitions_upkeep_task",
    soft_time_limit=10 * 60,
    time_limit=12 * 60,
    **RETRYING,
)
def partitions_upkeep_task() -> dict:
    rows = services.maintenance_run(apply=True, steps=("partitions",))
    return {row.step: {"outcome": row.outcome, "rows": row.rows_touched} for row in rows}


@shared_task(
    name="apps.ops.tasks.beat_heartbeat_task", soft_time_limit=30, time_limit=60, **RETRYING
)
def beat_heartbeat_task(name: str = "beat") -> str:
    return services.heartbeat_record(name=name).beat_at.isoformat()
