from django.contrib import admin

from apps.core.admin.partitioned import PartitionedShadowAdmin
from apps.pg.partitioning.admin import date_window_filter

from .models import EventRow, PerformanceMetricRow


@admin.register(EventRow)
class EventAdmin(PartitionedShadowAdmin):
    list_display = (
        "created_at",
        "severity",
        "event_type",
        "source_component",
        "target_component",
        "workflow",
        "task",
        "correlation_id",
    )
    list_filter = (date_window_filter("created_at"), "severity")
    list_select_related = ("workflow", "task")
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    exact_search_fields = ("event_type", "correlation_id", "trace_id")
    raw_id_fields = ("project", "workflow", "task")


@admin.register(PerformanceMetricRow)
class PerformanceMetricAdmin(PartitionedShadowAdmin):
    list_display = ("recorded_at", "component", "metric_name", "value", "unit", "tags")
    list_filter = (date_window_filter("recorded_at"),)
    ordering = ("-recorded_at",)
    sortable_by = ("recorded_at",)
    exact_search_fields = ("component", "metric_name")
