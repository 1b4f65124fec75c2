from django.contrib import admin
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.core import charts
from apps.core.admin import BigTableAdmin, DatabaseRulesForm
from apps.tasks.models import Task, TaskStatus

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
    project_lookup = "project_id"
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
        "status_breakdown",
        "progress_over_time",
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
        ("Tasks", {"fields": ("status_breakdown", "progress_over_time", "tasks_overview")}),
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

    @admin.display(description="Tasks by status")
    def status_breakdown(self, obj: Workflow) -> str:
        """One bar split by status (the (workflow, status, priority) index answers it)."""
        if obj.pk is None:
            return "-"
        counts = dict(
            Task.objects.filter(workflow=obj)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        parts = [
            (label, f"fb-t-{value}", counts.get(value, 0)) for value, label in TaskStatus.choices
        ]
        return charts.share_bar(parts) or "No tasks yet."

    @admin.display(description="Done over time")
    def progress_over_time(self, obj: Workflow) -> str:
        """Tasks completed per day (bars) since the first completion."""
        if obj.pk is None:
            return "-"
        rows = list(
            Task.objects.filter(workflow=obj, completed_at__isnull=False)
            .order_by()
            .annotate(day=TruncDay("completed_at"))
            .values("day")
            .annotate(n=Count("id"))
            .order_by("day")
        )
        if not rows:
            return "No task completed yet."
        return charts.stacked_bars(
            [r["day"].strftime("%Y-%m-%d") for r in rows],
            [("done", "fb-t-done", [r["n"] for r in rows])],
            height=120,
            unit="tasks",
        )
