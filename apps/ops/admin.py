"""Read-only admin pages: job logs, heartbeat, materialized views and archived rows."""

from django.contrib import admin

from apps.core.admin import BigTableAdmin, ReadOnlyAdminMixin, ReplicaChangeListMixin

from . import models


class ReadOnlyAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    pass


class MatviewAdmin(ReplicaChangeListMixin, ReadOnlyAdmin):
    """A materialized view: stale by design between refreshes, so its list may be the replica's."""


class ArchiveAdmin(ReadOnlyAdmin):
    hidden_from_scoped_staff = True  # archived rows of every project
    """Tables in the `archive` schema (db_table 'archive"."…'); the core paginator estimates them."""


@admin.register(models.Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "beat_at")
    search_by_id = False


@admin.register(models.MatviewRefresh)
class MatviewRefreshAdmin(ReadOnlyAdmin):
    list_display = (
        "view_name",
        "started_at",
        "duration_ms",
        "rows",
        "concurrently",
        "outcome",
        "error",
    )
    list_filter = ("view_name", "outcome")


@admin.register(models.MaintenanceRun)
class MaintenanceRunAdmin(ReadOnlyAdmin):
    list_display = (
        "step",
        "run_id",
        "applied",
        "started_at",
        "finished_at",
        "outcome",
        "rows_touched",
    )
    list_filter = ("step", "outcome", "applied")


@admin.register(models.ArchiveRun)
class ArchiveRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "started_at",
        "finished_at",
        "applied",
        "outcome",
        "older_than_days",
        "batches",
        "workflows_moved",
        "tasks_moved",
        "dependencies_moved",
        "reconciled",
    )
    list_filter = ("outcome", "applied")

    @admin.display(boolean=True)
    def reconciled(self, obj: models.ArchiveRun) -> bool:
        return obj.reconciled


@admin.register(models.ArchiveHold)
class ArchiveHoldAdmin(ReadOnlyAdmin):
    """Restored workflows the archiver leaves alone until they are completed again."""

    list_display = ("workflow_id", "restored_at")


@admin.register(models.WorkflowSummary)
class WorkflowSummaryAdmin(MatviewAdmin):
    project_lookup = "project_id"
    list_display = (
        "workflow_id",
        "workflow_name",
        "project_name",
        "status",
        "tasks_total",
        "tasks_done",
        "progress",
        "mean_duration",
        "p90_duration",
        "last_activity_at",
    )
    list_filter = ("status",)
    search_fields = ("workflow_name", "project_name")


@admin.register(models.WeeklyTaskThroughput)
class WeeklyTaskThroughputAdmin(MatviewAdmin):
    project_lookup = "project_id"
    list_display = ("week", "project_name", "tasks_created", "tasks_completed", "mean_cycle_time")
    search_fields = ("project_name",)
    search_by_id = False


@admin.register(models.TemplateEffectiveness)
class TemplateEffectivenessAdmin(MatviewAdmin):
    list_display = (
        "name",
        "type",
        "version",
        "usage_count",
        "success_rate",
        "usage_rank_in_type",
        "last_used_at",
        "is_active",
    )
    list_filter = ("type", "is_active")
    search_fields = ("name",)


@admin.register(models.WorkflowExtractionSummary)
class WorkflowExtractionSummaryAdmin(MatviewAdmin):
    project_lookup = "project_id"
    list_display = (
        "project_name",
        "workflows_total",
        "workflows_with_definition",
        "workflows_without_definition",
        "node_count_avg",
        "node_count_max",
        "last_import_at",
    )
    search_fields = ("project_name",)


@admin.register(models.ProjectDailyStats)
class ProjectDailyStatsAdmin(MatviewAdmin):
    project_lookup = "project_id"
    list_display = (
        "day",
        "project_name",
        "tasks_created",
        "tasks_completed",
        "events_total",
        "events_warning",
        "events_error",
        "events_critical",
    )
    search_fields = ("project_name",)
    search_by_id = False


@admin.register(models.FormCompletionStats)
class FormCompletionStatsAdmin(MatviewAdmin):
    list_display = (
        "day",
        "form_name",
        "form_version",
        "submissions",
        "completed",
        "avg_completion_time",
    )
    search_fields = ("form_name",)
    search_by_id = False


@admin.register(models.ArchivedWorkflow)
class ArchivedWorkflowAdmin(ArchiveAdmin):
    list_display = ("id", "name", "project_id", "status", "completed_at", "archived_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(models.ArchivedTask)
class ArchivedTaskAdmin(ArchiveAdmin):
    list_display = ("id", "title", "workflow_id", "status", "completed_at", "archived_at")
    list_filter = ("status",)
    search_fields = ("title",)


@admin.register(models.ArchivedTaskDependency)
class ArchivedTaskDependencyAdmin(ArchiveAdmin):
    list_display = ("id", "task_id", "depends_on_id", "type", "archived_at")
