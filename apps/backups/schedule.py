"""The backups' default beat entries, shipped by migration 0002. Unlike apps/ops' schedule they
are only created, never reset: their timing is meant to be edited in the admin (Periodic tasks),
and a later migrate must not undo that."""

from __future__ import annotations

import json

from apps.ops.schedule import ScheduleEntry

BACKUP_SCHEDULE: tuple[ScheduleEntry, ...] = (
    ScheduleEntry(
        name="backups: daily logical backup",
        task="apps.backups.tasks.backup_task",
        description="pg_dump -Fc with a manifest into BACKUP_DIR (apps/backups).",
        crontab={"minute": "30", "hour": "1"},
        expire_seconds=6 * 60 * 60,
    ),
    ScheduleEntry(
        name="backups: restore verification",
        task="apps.backups.tasks.restore_verify_task",
        description="Monthly: restore the newest backup into a scratch database, compare it with "
        "its manifest (RestoreTest), apply BACKUP_RETENTION_DAYS.",
        crontab={"minute": "0", "hour": "4", "day_of_month": "1"},
        expire_seconds=20 * 60 * 60,
    ),
)


def install_backup_schedule(
    *, periodic_task, crontab_schedule, periodic_tasks, now, using=None
) -> list[str]:
    """Create the entries that do not exist yet (by name); leave existing ones as staff set them."""
    tasks, crontabs, beat_changes = (
        model._default_manager.db_manager(using)
        for model in (periodic_task, crontab_schedule, periodic_tasks)
    )
    created = []
    for entry in BACKUP_SCHEDULE:
        if tasks.filter(name=entry.name).exists():
            continue
        cron = {
            "minute": "*",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            **(entry.crontab or {}),
        }
        crontab = crontabs.filter(**cron, timezone="UTC").first() or crontabs.create(
            **cron, timezone="UTC"
        )
        tasks.create(
            name=entry.name,
            task=entry.task,
            description=entry.description,
            crontab=crontab,
            kwargs=json.dumps(entry.kwargs, sort_keys=True),
            args="[]",
            expire_seconds=entry.expire_seconds,
            enabled=True,
        )
        created.append(entry.name)
    if created:
        beat_changes.update_or_create(ident=1, defaults={"last_update": now})
    return created
