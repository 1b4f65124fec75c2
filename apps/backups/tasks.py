"""Beat jobs: the daily backup and the restore test that proves it (default schedules shipped by
migration 0002; editable in the admin under Periodic tasks). Both run on the maintenance queue,
the only worker holding the owner's credentials."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import BackupStatus


@shared_task(
    name="apps.backups.tasks.backup_task",
    queue="maintenance",
    soft_time_limit=100 * 60,
    time_limit=110 * 60,
)
def backup_task() -> dict:
    run = services.backup_create()
    return {"backup": run.pk, "status": run.status, "size_bytes": run.size_bytes}


@shared_task(
    name="apps.backups.tasks.restore_verify_task",
    queue="maintenance",
    soft_time_limit=100 * 60,
    time_limit=110 * 60,
)
def restore_verify_task() -> dict:
    """Restore the newest backup into a scratch database and compare it with its manifest
    (a RestoreTest row), then apply retention. Without a backup yet, take one first."""
    if not services.backups_good():
        run = services.backup_create()
        if run.status != BackupStatus.OK:
            return {"backup": run.pk, "status": run.status, "error": run.error}
    test = services.restore_verify()
    pruned = services.retention_apply()
    return {
        "restore_test": test.pk,
        "backup": test.backup_id,
        "status": test.status,
        "tables": test.tables_checked,
        "mismatches": len(test.mismatches),
        "pruned": pruned,
    }
