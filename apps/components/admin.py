from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from apps.core import charts
from apps.core.admin import BigTableAdmin
from apps.core.units import human_ms

from .models import Component, ComponentCommunication, LearningData, SystemHealth


@admin.register(Component)
class ComponentAdmin(BigTableAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = ("name", "type", "version", "health_status", "last_heartbeat")
    list_filter = ("type", "health_status")
    search_fields = ("=name",)
    ordering = ("name",)
    readonly_fields = ("last_heartbeat", "created_at", "updated_at")


@admin.register(ComponentCommunication)
class ComponentCommunicationAdmin(BigTableAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = ("id", "source", "target", "message_type", "status", "retry_count", "created_at")
    list_select_related = ("source", "target")
    list_filter = ("status",)
    raw_id_fields = ("source", "target")
    ordering = ("-created_at",)


@admin.register(SystemHealth)
class SystemHealthAdmin(BigTableAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = (
        "component",
        "status",
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "response_time",
        "error_rate",
        "recorded_at",
    )
    list_select_related = ("component",)
    list_filter = ("status",)
    raw_id_fields = ("component",)
    ordering = ("-recorded_at",)

    @admin.display(description="Response time", ordering="response_time_ms")
    def response_time(self, obj: SystemHealth) -> str:
        return human_ms(obj.response_time_ms)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "health_sparklines": health_sparklines()}
        return super().changelist_view(request, extra_context=extra_context)


# The sparklines cover this much recent history, at most this many samples per component.
HEALTH_WINDOW = timedelta(hours=24)
HEALTH_MAX_ROWS = 20_000


def health_sparklines() -> list[dict]:
    """Per component over the last 24 h: CPU, memory, response time and error-rate lines."""
    rows = (
        SystemHealth.objects.filter(recorded_at__gte=timezone.now() - HEALTH_WINDOW)
        .order_by("component__name", "recorded_at")
        .values_list(
            "component__name", "cpu_usage", "memory_usage", "response_time_ms", "error_rate"
        )[:HEALTH_MAX_ROWS]
    )
    per: dict[str, list] = {}
    for name, *values in rows:
        per.setdefault(name, []).append(values)

    def pct(v: float) -> str:
        return f"{v:,.1f} %"

    out = []
    for name, samples in per.items():
        columns = list(zip(*samples, strict=True))
        out.append(
            {
                "component": name,
                "samples": len(samples),
                "cpu": charts.sparkline(columns[0], label=pct),
                "memory": charts.sparkline(columns[1], label=pct),
                "response": charts.sparkline(columns[2], label=human_ms),
                "last_response": human_ms(samples[-1][2]),
                "errors": charts.sparkline(columns[3]),
            }
        )
    return out


@admin.register(LearningData)
class LearningDataAdmin(BigTableAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
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
