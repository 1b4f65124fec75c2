"""Retention, the findings, the shipped beat entries and the read-only admin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from apps.backups import findings, services
from apps.backups.models import BackupKind, BackupRun, BackupStatus, RestoreStatus, RestoreTest
from apps.backups.schedule import BACKUP_SCHEDULE, install_backup_schedule
from dataplatform.celery import app as celery_app

pytestmark = pytest.mark.django_db


def _backup(tmp_path: Path, days_old: float, *, status=BackupStatus.OK) -> BackupRun:
    started = timezone.now() - timedelta(days=days_old)
    path = tmp_path / f"flowbase-{days_old}.dump"
    path.write_bytes(b"dump")
    services.manifest_path(path).write_text("{}")
    return BackupRun.objects.create(
        kind=BackupKind.LOGICAL,
        status=status,
        database="flowbase",
        started_at=started,
        path=str(path),
    )


def _restore_test(backup: BackupRun, days_old: float, status=RestoreStatus.PASSED) -> RestoreTest:
    at = timezone.now() - timedelta(days=days_old)
    return RestoreTest.objects.create(
        backup=backup,
        status=status,
        started_at=at,
        finished_at=at,
        duration_ms=1,
        scratch_database="x",
    )


def test_retention_deletes_old_files_but_keeps_the_newest_and_the_last_verified(tmp_path):
    verified = _backup(tmp_path, 60)
    _restore_test(verified, 59)
    old = _backup(tmp_path, 45)
    recent = _backup(tmp_path, 3)
    pruned = services.retention_apply(days=30)
    assert pruned == [old.pk]
    old.refresh_from_db()
    assert old.status == BackupStatus.PRUNED and not Path(old.path).exists()
    assert not services.manifest_path(Path(old.path)).exists()
    assert Path(verified.path).exists() and Path(recent.path).exists()
    assert services.retention_apply(days=30) == []  # idempotent


def test_findings_when_never_verified_stale_or_failed(tmp_path, settings):
    settings.BACKUP_VERIFY_MAX_AGE_DAYS = 35
    assert {f["key"]: f["severity"] for f in findings.backup_findings()} == {
        "backup.restore_stale": "critical",  # never verified
        "backup.backup_stale": "warning",  # no backup at all
    }
    backup = _backup(tmp_path, 1)
    _restore_test(backup, 40)
    stale = {f["key"]: f for f in findings.backup_findings()}
    assert set(stale) == {"backup.restore_stale"}
    assert stale["backup.restore_stale"]["severity"] == "warning"
    assert "40 days old" in stale["backup.restore_stale"]["title"]
    _restore_test(backup, 0)
    assert findings.backup_findings() == []
    _restore_test(backup, 0, status=RestoreStatus.FAILED)
    failed = findings.backup_findings()
    assert [f["key"] for f in failed] == ["backup.restore_failed"]
    for f in failed:  # the shape dbhealth's findings_sync takes
        assert f["kind"].startswith(findings.KIND_PREFIX)
        assert {"key", "kind", "severity", "object_name", "title", "evidence"} <= set(f)


def test_beat_entries_are_shipped_monthly_and_never_reset():
    names = {entry.name for entry in BACKUP_SCHEDULE}
    installed = {t.name: t for t in PeriodicTask.objects.filter(name__in=names)}
    assert set(installed) == names  # shipped by migration 0002
    celery_app.loader.import_default_modules()
    for task in installed.values():
        assert task.task in celery_app.tasks and task.enabled
    verify = installed["backups: restore verification"]
    assert (verify.crontab.day_of_month, verify.crontab.hour) == ("1", "4")
    # Staff move it to weekly in the admin: a later migrate keeps that.
    weekly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="5", day_of_week="0", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    verify.crontab = weekly
    verify.save()
    created = install_backup_schedule(
        periodic_task=PeriodicTask,
        crontab_schedule=CrontabSchedule,
        periodic_tasks=PeriodicTasks,
        now=timezone.now(),
    )
    assert created == []
    verify.refresh_from_db()
    assert verify.crontab == weekly


def test_admin_lists_are_read_only(admin_client, tmp_path, django_assert_max_num_queries):
    backup = _backup(tmp_path, 1)
    _restore_test(backup, 0)
    for url in ("/admin/backups/backuprun/", "/admin/backups/restoretest/"):
        with django_assert_max_num_queries(12):
            response = admin_client.get(url)
        assert response.status_code == 200
        assert (url + "add/").encode() not in response.content
    response = admin_client.get(f"/admin/backups/backuprun/{backup.pk}/change/")
    assert response.status_code == 200 and b'name="_save"' not in response.content


@pytest.mark.django_db
def test_a_full_findings_refresh_says_no_backup_was_ever_verified():
    from apps.dbhealth import services as dbh_services
    from apps.dbhealth.models import Finding

    dbh_services.findings_refresh()
    kinds = set(Finding.objects.filter(kind__startswith="backup.").values_list("kind", flat=True))
    assert "backup.restore_stale" in kinds
