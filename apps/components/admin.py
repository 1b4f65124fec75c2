from django.contrib import admin

from apps.core.admin import BigTableAdmin

from .models import Component, ComponentCommunication, LearningData, SystemHealth


@admin.register(Component)
class ComponentAdmin(BigTableAdmin):
    list_display = ("name", "type", "version", "health_status", "last_heartbeat")
    list_filter = ("type", "health_status")
    search_fields = ("=name",)
    ordering = ("name",)
    readonly_fields = ("last_heartbeat", "created_at", "updated_at")


@admin.register(ComponentCommunication)
class ComponentCommunicationAdmin(BigTableAdmin):
    list_display = ("id", "source", "target", "message_type", "status", "retry_count", "created_at")
    list_select_related = ("source", "target")
    list_filter = ("status",)
    raw_id_fields = ("source", "target")
    ordering = ("-created_at",)


@admin.register(SystemHealth)
class SystemHealthAdmin(BigTableAdmin):
    list_display = (
        "component",
        "status",
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "response_time_ms",
        "error_rate",
        "recorded_at",
    )
    list_select_related = ("component",)
    list_filter = ("status",)
    raw_id_fields = ("component",)
    ordering = ("-recorded_at",)


@admin.register(LearningData)
class LearningDataAdmin(BigTableAdmin):
    list_display = (
        "pattern_type",
        "component",
        "outcome",
        "confidence",
        "effectiveness",
        "created_at",
    )
    list_select_related = ("component",)
    list_filter = ("outcome",)
    raw_id_fields = ("component",)
    ordering = ("-created_at",)
