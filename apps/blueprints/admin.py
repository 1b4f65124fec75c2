from django.contrib import admin

from apps.core.admin import BigTableAdmin

from .models import Template


@admin.register(Template)
class TemplateAdmin(BigTableAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = (
        "name",
        "type",
        "version",
        "category",
        "is_active",
        "usage_count",
        "success_rate_display",
        "last_used_at",
    )
    list_filter = ("type", "is_active")
    search_fields = ("name",)
    ordering = ("name", "type", "-version")
    readonly_fields = (
        "usage_count",
        "success_count",
        "failure_count",
        "last_used_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Success rate")
    def success_rate_display(self, obj: Template) -> str:
        rate = obj.success_rate
        return "-" if rate is None else f"{rate:.1f}%"
