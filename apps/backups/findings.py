"""Database findings about backups, in the shape apps/dbhealth's findings sync takes (dicts with
key, kind, severity, object_name, title, evidence, suggested_fix). Kinds start with "backup.";
the findings collection calls `backup_findings()` and auto-resolves "backup." kinds that are
gone."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import BackupKind, BackupRun, BackupStatus, RestoreStatus, RestoreTest

KIND_PREFIX = "backup."
_FIX = (
    "Run `manage.py backup` and the job 'backups: restore verification' (or restore_verify_task)."
)


def backup_findings(*, now: datetime | None = None) -> list[dict]:
    now = now or timezone.now()
    max_age = timedelta(days=settings.BACKUP_VERIFY_MAX_AGE_DAYS)
    out: list[dict] = []
    last = RestoreTest.objects.select_related("backup").order_by("-started_at").first()
    passed = RestoreTest.objects.filter(status=RestoreStatus.PASSED).order_by("-started_at").first()
    if last is not None and last.status == RestoreStatus.FAILED:
        out.append(
            {
                "key": "backup.restore_failed",
                "kind": "backup.restore_failed",
                "severity": "critical",
                "object_name": f"backup {last.backup_id}",
                "title": f"The last restore test failed ({last.started_at:%Y-%m-%d %H:%M} UTC)",
                "evidence": {
                    "restore_test": last.pk,
                    "backup": last.backup_id,
                    "error": last.error[:500],
                    "mismatches": last.mismatches[:20],
                },
                "suggested_fix": "Read the restore test's error and mismatches; take a new backup "
                "and verify it. " + _FIX,
            }
        )
    if passed is None or now - passed.started_at > max_age:
        age = None if passed is None else (now - passed.started_at).days
        out.append(
            {
                "key": "backup.restore_stale",
                "kind": "backup.restore_stale",
                "severity": "warning" if passed is not None else "critical",
                "object_name": "backups",
                "title": (
                    "No backup has ever been proven by a restore"
                    if passed is None
                    else f"The last verified restore is {age} days old "
                    f"(limit {settings.BACKUP_VERIFY_MAX_AGE_DAYS})"
                ),
                "evidence": {
                    "last_passed_at": passed.started_at.isoformat() if passed else None,
                    "max_age_days": settings.BACKUP_VERIFY_MAX_AGE_DAYS,
                },
                "suggested_fix": _FIX,
            }
        )
    newest = (
        BackupRun.objects.filter(kind=BackupKind.LOGICAL, status=BackupStatus.OK)
        .order_by("-started_at")
        .first()
    )
    if newest is None or now - newest.started_at > timedelta(days=2):
        out.append(
            {
                "key": "backup.backup_stale",
                "kind": "backup.backup_stale",
                "severity": "warning",
                "object_name": "backups",
                "title": "No logical backup in the last 2 days (the schedule is daily)",
                "evidence": {"last_backup_at": newest.started_at.isoformat() if newest else None},
                "suggested_fix": "Check the worker on the maintenance queue and the job "
                "'backups: daily logical backup'. " + _FIX,
            }
        )
    return out
