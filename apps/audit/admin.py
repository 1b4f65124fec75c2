from django.contrib import admin

from apps.core.admin.partitioned import PartitionedShadowAdmin
from apps.pg.partitioning.admin import date_window_filter

from .models import AuditEventRow


@admin.register(AuditEventRow)
class AuditEventAdmin(PartitionedShadowAdmin):
    list_display = ("created_at", "action", "table_name", "row_pk", "actor", "request_id")
    list_filter = (date_window_filter("created_at"), "action")
    list_select_related = ("actor",)
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    # row_pk alone has no index of its own; request ids are rare enough to scan the window.
    exact_search_fields = ("row_pk", "request_id")
    raw_id_fields = ("actor",)
