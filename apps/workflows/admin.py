from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.core.admin import BigTableAdmin, DatabaseRulesForm
from apps.tasks.models import Task

from .models import Workflow

OVERVIEW_ROWS = 20


class WorkflowForm(DatabaseRulesForm):
    class Meta:
        model = Workflow
        fields = "__all__"


def progress_bar(percent) -> str:
    value = float(percent or 0)
    return format_html(
        '<progress max="100" value="{}" title="{}%"></progress> {}%', value, value, value
    )


@admin.register(Workflow)
class WorkflowAdmin(BigTableAdmin):
    form = WorkflowForm
    list_display = (
        "name",
        "project",
        "status",
        "phase",
        "progress_display",
        "tasks_counts",
        "updated_at",
    )
    list_select_related = ("project",)
    list_filter = ("status", "phase")
    search_fields = ("name",)
    raw_id_fields = ("project",)
    ordering = ("-created_at",)
    readonly_fields = (
        "progress_display",
        "tasks_total",
        "tasks_done",
        "node_count",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
        "tasks_overview",
    )
    fieldsets = (
        (None, {"fields": ("project", "name", "status", "phase", "description", "requirements")}),
        (
            "Progress (maintained by the database)",
            {
                "fields": (
                    "progress_display",
                    "tasks_total",
                    "tasks_done",
                    "started_at",
                    "completed_at",
                )
            },
        ),
        ("Tasks", {"fields": ("tasks_overview",)}),
        (
            "Definition",
            {"classes": ("collapse",), "fields": ("definition", "node_count", "tags", "metrics")},
        ),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Progress", ordering="progress")
    def progress_display(self, obj: Workflow) -> str:
        return progress_bar(obj.progress)

    @admin.display(description="Done / total")
    def tasks_counts(self, obj: Workflow) -> str:
        return f"{obj.tasks_done} / {obj.tasks_total}"

    @admin.display(description="Tasks")
    def tasks_overview(self, obj: Workflow) -> str:
        """The first tasks by priority, and a link to all of them (no unbounded inline)."""
        if obj.pk is None:
            return "-"
        tasks: QuerySet[Task] = Task.objects.filter(workflow=obj, parent__isnull=True).order_by(
            "-priority", "id"
        )[:OVERVIEW_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:tasks_task_change", args=[t.pk]),
                    t.pk,
                    t.title,
                    t.status,
                    t.priority,
                )
                for t in tasks
            ),
        )
        all_url = reverse("admin:tasks_task_changelist") + f"?workflow__id__exact={obj.pk}"
        return format_html(
            "<table><thead><tr><th>Task</th><th>Title</th><th>Status</th><th>Priority</th></tr>"
            '</thead><tbody>{}</tbody></table><p><a href="{}">All tasks of this workflow</a></p>',
            rows,
            all_url,
        )
