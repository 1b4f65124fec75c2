"""Operations: job logs (refresh, archive, maintenance), beat heartbeat, and read-only models
over the materialized views and the `archive` schema (both created by raw SQL migrations)."""

from django.db import models

from apps.core.fields import JSONField


class Outcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial (time budget reached)"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"
    DRY_RUN = "dry_run", "Dry run"


class LeaseHolder(models.Model):
    """The PostgreSQL session holding a running job's lease (apps/pg/leases.py): when that
    session is gone, the job is known dead and the next run takes over at once."""

    holder_pid = models.IntegerField(null=True, blank=True)
    holder_backend_start = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """Last time a periodic job checked in (`beat` every minute), for health checks."""

    name = models.CharField(max_length=100, primary_key=True)
    beat_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class MatviewRefresh(LeaseHolder):
    """One REFRESH MATERIALIZED VIEW attempt: the freshness record of each view.

    Written "running" (committed on its own) before the REFRESH and completed after it, so an
    attempt killed mid-way stays visible; the next refresh marks it "interrupted" once the
    session that ran it (holder_pid) is gone."""

    OUTCOMES = [
        (Outcome.RUNNING, Outcome.RUNNING.label),
        (Outcome.SUCCESS, Outcome.SUCCESS.label),
        (Outcome.SKIPPED, Outcome.SKIPPED.label),
        (Outcome.FAILED, Outcome.FAILED.label),
        (Outcome.INTERRUPTED, Outcome.INTERRUPTED.label),
    ]

    view_name = models.CharField(max_length=63)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    rows = models.BigIntegerField(null=True, blank=True)
    concurrently = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=OUTCOMES)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "matview refreshes"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    outcome__in=["running", "success", "skipped", "failed", "interrupted"]
                ),
                name="matview_refresh_outcome_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="running") | models.Q(finished_at__isnull=False),
                name="matview_refresh_finished_unless_running",
            ),
        ]
        indexes = [
            models.Index(fields=["view_name", "-started_at"], name="matview_refresh_view_idx"),
            models.Index(fields=["started_at"], name="matview_refresh_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.view_name} {self.outcome} @ {self.started_at:%Y-%m-%d %H:%M:%S}"


class MaintenanceRun(LeaseHolder):
    """One step of one `maintain` run (steps of a run share run_id); the `run` row is the lease."""

    run_id = models.UUIDField(db_index=True)
    step = models.CharField(max_length=50)
    applied = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome, default=Outcome.RUNNING)
    # Lease (the `run` row): refreshed between steps; silent for a few intervals = dead.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rows_touched = models.BigIntegerField(default=0)
    details = JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["step", "-started_at"], name="maintenance_run_step_idx"),
            models.Index(fields=["started_at"], name="maintenance_run_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.step} {self.outcome} @ {self.started_at:%Y-%m-%d %H:%M:%S}"


class ArchiveRun(LeaseHolder):
    """One archiving run; counters are updated in the same transaction as each batch."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Lease: a running run refreshes this after every batch; silent for a few intervals (or its
    # session gone) means it was killed.
    heartbeat_at = models.DateTimeField()
    applied = models.BooleanField(default=False)
    older_than_days = models.PositiveIntegerField()
    cutoff = models.DateTimeField()
    batch_size = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome, default=Outcome.RUNNING)
    batches = models.PositiveIntegerField(default=0)
    workflows_moved = models.BigIntegerField(default=0)
    workflows_deleted = models.BigIntegerField(default=0)
    tasks_moved = models.BigIntegerField(default=0)
    tasks_deleted = models.BigIntegerField(default=0)
    dependencies_moved = models.BigIntegerField(default=0)
    dependencies_deleted = models.BigIntegerField(default=0)
    details = JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["outcome", "-started_at"], name="archive_run_outcome_idx")]

    def __str__(self) -> str:
        return f"archive run {self.pk} {self.outcome}"

    @property
    def reconciled(self) -> bool:
        return (
            self.workflows_moved == self.workflows_deleted
            and self.tasks_moved == self.tasks_deleted
            and self.dependencies_moved == self.dependencies_deleted
        )


class ArchiveHold(models.Model):
    """A workflow brought back by archive_restore: the archiver leaves it in the live tables
    until it is completed again (completed_at later than restored_at). No foreign key: the
    hold outlives the workflow's moves between the live and archive tables."""

    workflow_id = models.BigIntegerField(primary_key=True)
    restored_at = models.DateTimeField()

    class Meta:
        ordering = ["-restored_at"]

    def __str__(self) -> str:
        return f"workflow {self.workflow_id} held since {self.restored_at:%Y-%m-%d %H:%M}"


# --- materialized views (created in migrations from apps/ops/sql/*.sql) -------------------------


class WorkflowSummary(models.Model):
    workflow_id = models.BigIntegerField(primary_key=True)
    project_id = models.BigIntegerField()
    project_name = models.CharField(max_length=255)
    workflow_name = models.CharField(max_length=255)
    status = models.CharField(max_length=20)
    tasks_total = models.IntegerField()
    tasks_pending = models.IntegerField()
    tasks_in_progress = models.IntegerField()
    tasks_review = models.IntegerField()
    tasks_done = models.IntegerField()
    tasks_deferred = models.IntegerField()
    tasks_cancelled = models.IntegerField()
    tasks_blocked = models.IntegerField()
    progress = models.DecimalField(max_digits=5, decimal_places=2)
    mean_duration = models.DurationField(null=True)
    p90_duration = models.DurationField(null=True)
    last_activity_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "workflow_summary"
        ordering = ["-workflow_id"]
        verbose_name_plural = "workflow summaries"

    def __str__(self) -> str:
        return f"{self.workflow_name} ({self.tasks_done}/{self.tasks_total} done)"


class WeeklyTaskThroughput(models.Model):
    id = models.CharField(max_length=64, primary_key=True)  # "<project_id>:<week>"
    project_id = models.BigIntegerField()
    project_name = models.CharField(max_length=255)
    week = models.DateField()
    tasks_created = models.IntegerField()
    tasks_completed = models.IntegerField()
    mean_cycle_time = models.DurationField(null=True)

    class Meta:
        managed = False
        db_table = "weekly_task_throughput"
        ordering = ["-week", "project_id"]
        verbose_name_plural = "weekly task throughput"

    def __str__(self) -> str:
        return f"{self.project_name} week of {self.week}"


class TemplateEffectiveness(models.Model):
    template_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20)
    category = models.CharField(max_length=100)
    version = models.CharField(max_length=32)
    is_active = models.BooleanField()
    usage_count = models.IntegerField()
    success_count = models.IntegerField()
    failure_count = models.IntegerField()
    success_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    usage_rank_in_type = models.IntegerField()
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "template_effectiveness"
        ordering = ["type", "usage_rank_in_type"]
        verbose_name_plural = "template effectiveness"

    def __str__(self) -> str:
        return f"{self.name} ({self.type} {self.version})"


class WorkflowExtractionSummary(models.Model):
    project_id = models.BigIntegerField(primary_key=True)
    project_name = models.CharField(max_length=255)
    workflows_total = models.IntegerField()
    workflows_with_definition = models.IntegerField()
    workflows_without_definition = models.IntegerField()
    node_count_min = models.IntegerField(null=True)
    node_count_avg = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    node_count_p50 = models.FloatField(null=True)
    node_count_max = models.IntegerField(null=True)
    last_import_at = models.DateTimeField(null=True)
    last_update_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "workflow_extraction_summary"
        ordering = ["project_name"]
        verbose_name_plural = "workflow extraction summaries"

    def __str__(self) -> str:
        return self.project_name


class ProjectDailyStats(models.Model):
    id = models.CharField(max_length=64, primary_key=True)  # "<project_id>:<day>"
    project_id = models.BigIntegerField()
    project_name = models.CharField(max_length=255)
    day = models.DateField()
    tasks_created = models.IntegerField()
    tasks_completed = models.IntegerField()
    events_total = models.IntegerField()
    events_debug = models.IntegerField()
    events_info = models.IntegerField()
    events_warning = models.IntegerField()
    events_error = models.IntegerField()
    events_critical = models.IntegerField()

    class Meta:
        managed = False
        db_table = "project_daily_stats"
        ordering = ["-day", "project_id"]
        verbose_name_plural = "project daily stats"

    def __str__(self) -> str:
        return f"{self.project_name} on {self.day}"


class FormCompletionStats(models.Model):
    id = models.CharField(max_length=64, primary_key=True)  # "<form_schema_id>:<day>"
    form_schema_id = models.BigIntegerField()
    form_name = models.CharField(max_length=200)
    form_version = models.IntegerField()
    day = models.DateField()
    submissions = models.IntegerField()
    completed = models.IntegerField()
    avg_completion_time = models.DecimalField(max_digits=14, decimal_places=2, null=True)

    class Meta:
        managed = False
        db_table = "form_completion_stats"
        ordering = ["-day", "form_name"]
        verbose_name_plural = "form completion stats"

    def __str__(self) -> str:
        return f"{self.form_name} v{self.form_version} on {self.day}"


# --- archive schema (created in a migration; rows moved by services.archive_run) ----------------


class ArchivedWorkflow(models.Model):
    id = models.BigIntegerField(primary_key=True)
    project_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=20)
    phase = models.CharField(max_length=20)
    progress = models.DecimalField(max_digits=5, decimal_places=2)
    node_count = models.IntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True)
    completed_at = models.DateTimeField(null=True)
    archived_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = 'archive"."workflows_workflow'
        ordering = ["-archived_at", "-id"]
        verbose_name = "archived workflow"

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} (archived)"


class ArchivedTask(models.Model):
    id = models.BigIntegerField(primary_key=True)
    workflow_id = models.BigIntegerField()
    parent_id = models.BigIntegerField(null=True)
    external_key = models.CharField(max_length=64, null=True)
    title = models.CharField(max_length=500)
    status = models.CharField(max_length=20)
    priority = models.IntegerField()
    assignee = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    archived_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = 'archive"."tasks_task'
        ordering = ["-archived_at", "-id"]
        verbose_name = "archived task"

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} (archived)"


class ArchivedTaskDependency(models.Model):
    id = models.BigIntegerField(primary_key=True)
    task_id = models.BigIntegerField()
    depends_on_id = models.BigIntegerField()
    type = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    archived_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = 'archive"."tasks_taskdependency'
        ordering = ["-archived_at", "-id"]
        verbose_name = "archived task dependency"
        verbose_name_plural = "archived task dependencies"

    def __str__(self) -> str:
        return f"{self.task_id} → {self.depends_on_id} (archived)"
