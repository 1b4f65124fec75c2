"""One row per backup and per restore test: what exists, what was proven restorable."""

from django.db import models


class BackupKind(models.TextChoices):
    LOGICAL = "logical", "Logical (pg_dump)"
    PHYSICAL = "physical", "Physical (pg_basebackup)"


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"
    PRUNED = "pruned", "Pruned (retention)"


class RestoreStatus(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class BackupRun(models.Model):
    """A backup attempt. Only `ok` rows name a complete file: the file is written under a temporary
    name and renamed, and the row marked ok, only after the dump finished and was checksummed."""

    kind = models.CharField(max_length=10, choices=BackupKind)
    status = models.CharField(max_length=10, choices=BackupStatus, default=BackupStatus.RUNNING)
    database = models.CharField(max_length=63)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    path = models.CharField(max_length=500, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    server_version = models.CharField(max_length=50, blank=True, default="")
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=BackupKind.values), name="backups_run_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=BackupStatus.values), name="backups_run_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status", "-started_at"], name="backups_run_latest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} backup {self.pk} ({self.status}, {self.started_at:%Y-%m-%d %H:%M})"


class RestoreTest(models.Model):
    """A backup restored into a scratch database and compared with its manifest."""

    backup = models.ForeignKey(BackupRun, on_delete=models.PROTECT, related_name="restore_tests")
    status = models.CharField(max_length=10, choices=RestoreStatus)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    scratch_database = models.CharField(max_length=63)
    tables_checked = models.PositiveIntegerField(default=0)
    rows_checked = models.BigIntegerField(default=0)
    mismatches = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RestoreStatus.values),
                name="backups_restore_status_valid",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-started_at"], name="backups_restore_latest_idx")
        ]

    def __str__(self) -> str:
        return f"restore test {self.pk} of backup {self.backup_id}: {self.status}"
