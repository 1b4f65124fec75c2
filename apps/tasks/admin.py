from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from apps.core.admin import BigTableAdmin, DatabaseRulesForm

from .models import Task, TaskDependency


class TaskForm(DatabaseRulesForm):
    class Meta:
        model = Task
        fields = "__all__"


class TaskDependencyForm(DatabaseRulesForm):
    class Meta:
        model = TaskDependency
        fields = "__all__"


class SubtaskFormSet(BaseInlineFormSet):
    """A subtask added inline joins its parent's workflow (the inline has no workflow field)."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        if form.instance.workflow_id is None:
            form.instance.workflow_id = self.instance.workflow_id
        return form


class SubtaskInline(admin.TabularInline):
    model = Task
    form = TaskForm
    formset = SubtaskFormSet
    fk_name = "parent"
    fields = ("external_key", "title", "status", "priority", "assignee")
    extra = 0
    show_change_link = True
    verbose_name = "subtask"
    verbose_name_plural = "subtasks"


class DependencyInline(admin.TabularInline):
    model = TaskDependency
    form = TaskDependencyForm
    fk_name = "task"
    fields = ("depends_on", "type")
    raw_id_fields = ("depends_on",)
    extra = 0
    verbose_name = "dependency (this task depends on)"
    verbose_name_plural = "dependencies (this task depends on)"


class LevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return (("top", "Top-level tasks"), ("sub", "Subtasks"))

    def queryset(self, request, queryset):
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(Task)
class TaskAdmin(BigTableAdmin):
    form = TaskForm
    list_display = (
        "id",
        "title",
        "workflow",
        "status",
        "priority",
        "assignee",
        "external_key",
        "updated_at",
    )
    list_display_links = ("id", "title")
    list_select_related = ("workflow",)
    list_filter = ("status", LevelFilter)
    search_fields = ("title",)
    raw_id_fields = ("workflow", "parent")
    ordering = ("-id",)
    sortable_by = ("id", "priority", "updated_at")
    readonly_fields = ("completed_at", "created_at", "updated_at")
    inlines = (SubtaskInline, DependencyInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "workflow",
                    "parent",
                    "external_key",
                    "title",
                    "status",
                    "priority",
                    "assignee",
                )
            },
        ),
        ("Description", {"fields": ("description", "details", "test_strategy")}),
        ("Effort", {"fields": ("estimated_effort", "actual_effort")}),
        (
            "Requirements",
            {"classes": ("collapse",), "fields": ("requirements", "acceptance_criteria", "legacy")},
        ),
        ("Timestamps", {"fields": ("completed_at", "created_at", "updated_at")}),
    )


@admin.register(TaskDependency)
class TaskDependencyAdmin(BigTableAdmin):
    form = TaskDependencyForm
    list_display = ("id", "task", "depends_on", "type", "created_at")
    list_select_related = ("task", "depends_on")
    list_filter = ("type",)
    raw_id_fields = ("task", "depends_on")
    ordering = ("-id",)
