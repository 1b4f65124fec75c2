"""The Celery beat: its heartbeat row and the install of its schedule."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..models import Heartbeat


def heartbeat_record(*, name: str = "beat") -> Heartbeat:
    """Upsert `name`'s heartbeat to now (one statement, idempotent)."""
    beat = Heartbeat(name=name, beat_at=timezone.now())
    Heartbeat.objects.bulk_create(
        [beat], update_conflicts=True, unique_fields=["name"], update_fields=["beat_at"]
    )
    return beat


@transaction.atomic
def beat_schedule_install() -> list[str]:
    """Install/refresh DEFAULT_SCHEDULE (apps/ops/schedule.py); returns the names changed."""
    from django_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        PeriodicTasks,
    )

    from ..schedule import install_schedule

    changed = install_schedule(
        periodic_task=PeriodicTask,
        interval_schedule=IntervalSchedule,
        crontab_schedule=CrontabSchedule,
        periodic_tasks=PeriodicTasks,
        now=timezone.now(),
    )
    PeriodicTasks.update_changed()
    return changed
