"""Read-only lists: backups and restore tests are written only by the services."""

from django.contrib import admin

from apps.core.admin import BigTableAdmin, ReadOnlyAdminMixin

from . import models


class ReadOnlyAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    pass


@admin.register(models.BackupRun)
class BackupRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "database",
        "started_at",
        "duration_ms",
        "size_bytes",
        "server_version",
        "path",
    )
    list_filter = ("kind", "status")


@admin.register(models.RestoreTest)
class RestoreTestAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "backup",
        "status",
        "started_at",
        "duration_ms",
        "tables_checked",
        "rows_checked",
        "scratch_database",
    )
    list_filter = ("status",)
    list_select_related = ("backup",)
