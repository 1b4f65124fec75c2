"""The default beat schedule, declared in code and installed into django-celery-beat's tables
by migration 0004 and by `manage.py beat_schedule_install` (same function, idempotent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

HEARTBEAT_NAME = "beat"


@dataclass(frozen=True)
class ScheduleEntry:
    name: str  # PeriodicTask.name: the upsert key
    task: str
    description: str
    every: timedelta | None = None
    crontab: dict[str, str] | None = None  # minute, hour, day_of_week, day_of_month, month_of_year
    kwargs: dict = field(default_factory=dict)
    # Drop a message not started within this many seconds (no backlog replay after an outage).
    expire_seconds: int | None = None


DEFAULT_SCHEDULE: tuple[ScheduleEntry, ...] = (
    ScheduleEntry(
        name="ops: refresh materialized views",
        task="apps.ops.tasks.refresh_matviews_task",
        description="Enqueue one refresh per materialized view (apps/ops/matviews.py).",
        every=timedelta(minutes=15),
        expire_seconds=14 * 60,
    ),
    ScheduleEntry(
        name="events: hourly counts roll-up",
        task="apps.events.tasks.event_counts_roll_up_task",
        description="Count closed hours' events per severity for the events chart "
        "(events.EventHourCount); recount hours marked by late writes.",
        every=timedelta(minutes=5),
        expire_seconds=4 * 60,
    ),
    ScheduleEntry(
        name="ops: partition upkeep",
        task="apps.ops.tasks.partitions_upkeep_task",
        description="Create upcoming partitions (never deletes).",
        crontab={"minute": "10", "hour": "0"},
        expire_seconds=6 * 60 * 60,
    ),
    ScheduleEntry(
        name="ops: archive old workflows",
        task="apps.ops.tasks.archive_task",
        description="Move completed/cancelled workflows older than ARCHIVE_AFTER_DAYS to archive.*.",
        crontab={"minute": "30", "hour": "2"},
        expire_seconds=6 * 60 * 60,
    ),
    ScheduleEntry(
        name="ops: nightly maintenance",
        task="apps.ops.tasks.maintain_task",
        description="ANALYZE stale tables, log retention, partition premake, vacuum report.",
        crontab={"minute": "0", "hour": "3"},
        expire_seconds=6 * 60 * 60,
    ),
    ScheduleEntry(
        name="ops: beat heartbeat",
        task="apps.ops.tasks.beat_heartbeat_task",
        description="Record that beat (and a worker) are alive: ops.Heartbeat 'beat'.",
        every=timedelta(minutes=1),
        kwargs={"name": HEARTBEAT_NAME},
        expire_seconds=50,
    ),
    ScheduleEntry(
        name="dbhealth: index usage snapshot",
        task="apps.dbhealth.tasks.index_usage_snapshot_task",
        description="Hourly index-usage snapshot, so usage survives statistics resets.",
        crontab={"minute": "5", "hour": "*"},
        expire_seconds=50 * 60,
    ),
    ScheduleEntry(
        name="dbhealth: data-quality checks",
        task="apps.dbhealth.tasks.dataquality_run_task",
        description="Run every enabled data-quality check and store its result.",
        crontab={"minute": "15", "hour": "*"},
        expire_seconds=50 * 60,
    ),
    ScheduleEntry(
        name="dbhealth: overview snapshot",
        task="apps.dbhealth.tasks.overview_snapshot_task",
        description="Database size, cache hit ratios, connections, Redis hit rate and queries "
        "per request for the overview's trend charts (old snapshots pruned).",
        every=timedelta(minutes=15),
        expire_seconds=14 * 60,
    ),
    ScheduleEntry(
        name="dbhealth: findings refresh",
        task="apps.dbhealth.tasks.findings_refresh_task",
        description="Re-evaluate findings: open new ones, resolve gone ones, reopen returning ones.",
        every=timedelta(minutes=10),
        expire_seconds=9 * 60,
    ),
)


def install_schedule(
    *, periodic_task, interval_schedule, crontab_schedule, periodic_tasks, now, using=None
) -> list[str]:
    """Upsert DEFAULT_SCHEDULE by name. Takes the model classes so a data migration can pass its
    historical models, and `using`, the migration's own connection alias. Keeps `enabled` as
    staff left it; resets timing, task and kwargs. Bumps PeriodicTasks (what
    PeriodicTasks.update_changed() does) so a running beat reloads."""
    tasks, intervals, crontabs, beat_changes = (
        model._default_manager.db_manager(using)
        for model in (periodic_task, interval_schedule, crontab_schedule, periodic_tasks)
    )
    changed = []
    for entry in DEFAULT_SCHEDULE:
        schedule_fields = {"interval": None, "crontab": None}
        if entry.every is not None:
            seconds = int(entry.every.total_seconds())
            every, period = (
                (seconds // 60, "minutes") if seconds % 60 == 0 else (seconds, "seconds")
            )
            interval = intervals.filter(every=every, period=period).first()
            schedule_fields["interval"] = interval or intervals.create(every=every, period=period)
        else:
            cron = {
                "minute": "*",
                "hour": "*",
                "day_of_week": "*",
                "day_of_month": "*",
                "month_of_year": "*",
                **(entry.crontab or {}),
            }
            crontab = crontabs.filter(**cron, timezone="UTC").first()
            schedule_fields["crontab"] = crontab or crontabs.create(**cron, timezone="UTC")
        defaults = {
            "task": entry.task,
            "description": entry.description,
            "kwargs": json.dumps(entry.kwargs, sort_keys=True),
            "args": "[]",
            "expire_seconds": entry.expire_seconds,
            **schedule_fields,
        }
        task, created = tasks.get_or_create(name=entry.name, defaults={**defaults, "enabled": True})
        dirty = []
        if not created:
            dirty = [k for k, v in defaults.items() if getattr(task, k) != v]
            if dirty:
                for key in dirty:
                    setattr(task, key, defaults[key])
                task.save(update_fields=dirty)
        if created or dirty:
            changed.append(entry.name)
    beat_changes.update_or_create(ident=1, defaults={"last_update": now})
    return changed


def install_from_migration(apps, schema_editor) -> None:
    """RunPython body of a migration that adds schedule entries, with its historical models."""
    from django.utils import timezone

    install_schedule(
        periodic_task=apps.get_model("django_celery_beat", "PeriodicTask"),
        interval_schedule=apps.get_model("django_celery_beat", "IntervalSchedule"),
        crontab_schedule=apps.get_model("django_celery_beat", "CrontabSchedule"),
        periodic_tasks=apps.get_model("django_celery_beat", "PeriodicTasks"),
        now=timezone.now(),
        using=schema_editor.connection.alias,  # `migrate --database owner`: not the app's alias
    )
