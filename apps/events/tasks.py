"""Celery tasks of the events app (thin: call a service). Beat entry: apps/ops/schedule.py."""

from dataclasses import asdict

from celery import shared_task

from apps.core.jobs import RETRYING

from . import services


@shared_task(
    name="apps.events.tasks.event_counts_roll_up_task",
    soft_time_limit=10 * 60,
    time_limit=12 * 60,
    **RETRYING,
)
def event_counts_roll_up_task() -> dict:
    """Each chunk commits on its own: a redelivered run continues from where the last stopped."""
    report = asdict(services.event_counts_roll_up())
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in report.items()}
