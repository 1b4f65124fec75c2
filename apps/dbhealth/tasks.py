"""Celery tasks of the Database section (thin: call a service). Beat entries: docs/dbhealth.md."""

from celery import shared_task

from . import services


@shared_task(
    name="apps.dbhealth.tasks.index_usage_snapshot_task", soft_time_limit=120, time_limit=180
)
def index_usage_snapshot_task() -> int:
    return services.index_usage_snapshot_take()


@shared_task(
    name="apps.dbhealth.tasks.dataquality_run_task", soft_time_limit=20 * 60, time_limit=25 * 60
)
def dataquality_run_task(name: str | None = None) -> dict:
    results = services.dataquality_run(names=[name] if name else None)
    return {"ran": len(results), "failed": sum(1 for r in results if not r.passed)}


@shared_task(name="apps.dbhealth.tasks.findings_refresh_task", soft_time_limit=120, time_limit=180)
def findings_refresh_task() -> dict:
    return services.findings_refresh()["sync"]


@shared_task(name="apps.dbhealth.tasks.overview_snapshot_task", soft_time_limit=60, time_limit=90)
def overview_snapshot_task() -> int:
    return services.overview_snapshot_take().pk
