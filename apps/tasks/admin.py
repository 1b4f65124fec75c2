import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from django.utils.http import urlencode

from apps.core.admin import BigTableAdmin, DatabaseRulesForm
from apps.core.validation import parse_id
from apps.workflows.models import Workflow

from . import services
from .models import Task, TaskDependency, TaskStatus


class TaskForm(DatabaseRulesForm):
    class Meta:
        model = Task
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        status = self.fields.get("status")
        if status is not None and self.instance.pk is not None:
            # Only the widget: a stale or hand-made POST still reaches the database, whose
            # refusal (with its reason) becomes the form error.
            status.widget.choices = services.task_status_choices(self.instance.status)


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


class TaskActionForm(ActionForm):
    """The changelist's action bar: the target status or priority of the bulk actions."""

    status = forms.ChoiceField(choices=[("", "status…"), *TaskStatus.choices], required=False)
    priority = forms.TypedChoiceField(
        choices=[("", "priority…"), *((p, p) for p in range(10, -1, -1))],
        coerce=int,
        empty_value=None,
        required=False,
    )


# A term shaped like an external key or a login ("15.1", "auth-3", "alice@example.com").
KEY_LIKE = re.compile(r"^[\w.@+-]{1,64}$")
# A bulk change loads and writes its rows one by one; beyond this, filter first.
BULK_MAX_ROWS = 1000
# Refused rows named in the message; the rest are counted.
BULK_MAX_NAMED = 20
WORKFLOW_FILTER = "workflow__id__exact"


@admin.register(Task)
class TaskAdmin(BigTableAdmin):
    project_lookup = "workflow__project_id"
    # Filtered by status the rows are clustered by id: keys through (status, id), then rows.
    page_keys_first = True
    form = TaskForm
    action_form = TaskActionForm
    actions = ("change_status", "change_priority")
    list_display = (
        "id",
        "title",
        "workflow_display",
        "status",
        "priority",
        "assignee",
        "external_key",
        "updated_at",
    )
    list_display_links = ("id", "title")
    list_select_related = ("workflow", "workflow__project")
    list_filter = ("status", LevelFilter)
    search_fields = ("title",)
    search_help_text = (
        "Words of the title (contains), or exactly: an external key (15.1), an assignee, a task id."
    )
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

    @admin.display(description="Project / workflow")
    def workflow_display(self, obj: Task) -> str:
        # The project first: one workflow name ("tech-debt") exists in several projects.
        return format_html("<small>{}</small>{}", obj.workflow.project.name, obj.workflow.name)

    def get_search_results(self, request, queryset, search_term: str):
        """Each branch through an index: trigram GIN on the title, b-trees on external_key
        and (assignee, status), the primary key; PostgreSQL ORs them with a BitmapOr."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(title__icontains=term)
        if KEY_LIKE.match(term):
            condition |= Q(external_key=term) | Q(assignee=term)
        pk = parse_id(term)
        if pk is not None:
            condition |= Q(pk=pk)
        return queryset.filter(condition), False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), **self._workflow_filter_notice(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def _workflow_filter_notice(self, request) -> dict:
        """ "Filtered by workflow X (project Y) — clear", when opened from a workflow."""
        workflow_id = parse_id(request.GET.get(WORKFLOW_FILTER, ""))
        if workflow_id is None:
            return {}
        workflow = (
            Workflow.objects.select_related("project")
            .filter(pk=workflow_id)
            .only("name", "project__name")
            .first()
        )
        rest = [(k, v) for k, v in request.GET.items() if k != WORKFLOW_FILTER]
        return {
            "workflow_filter": workflow,
            "workflow_filter_id": workflow_id,
            "workflow_filter_clear": "?" + urlencode(rest) if rest else "?",
        }

    def _bulk_rows(self, request, queryset):
        rows = list(queryset.order_by("pk")[: BULK_MAX_ROWS + 1])
        if len(rows) > BULK_MAX_ROWS:
            self.message_user(
                request,
                f"{BULK_MAX_ROWS:,}+ tasks selected: filter the list to at most "
                f"{BULK_MAX_ROWS:,} and try again; nothing was changed.",
                messages.ERROR,
            )
            return None
        return rows

    @admin.action(description="Change status of selected tasks (to the status chosen)")
    def change_status(self, request, queryset):
        status = request.POST.get("status", "")
        if status not in TaskStatus.values:
            self.message_user(
                request, "Choose a status beside the action; nothing was changed.", messages.ERROR
            )
            return
        rows = self._bulk_rows(request, queryset)
        if rows is None:
            return
        outcome = services.task_bulk_status_update(tasks=rows, status=status)
        label = TaskStatus(status).label
        if outcome.changed:
            self.message_user(
                request, f"{len(outcome.changed):,} task(s) moved to {label}.", messages.SUCCESS
            )
        if outcome.unchanged:
            self.message_user(
                request, f"{len(outcome.unchanged):,} task(s) already {label}.", messages.INFO
            )
        if outcome.refused:
            named = "; ".join(
                f"{key}: {reason}" for key, reason in outcome.refused[:BULK_MAX_NAMED]
            )
            more = len(outcome.refused) - BULK_MAX_NAMED
            self.message_user(
                request,
                f"{len(outcome.refused):,} task(s) refused by the database and left as they "
                f"were: {named}{f'; and {more:,} more' if more > 0 else ''}",
                messages.ERROR,
            )

    @admin.action(description="Change priority of selected tasks (to the priority chosen)")
    def change_priority(self, request, queryset):
        priority = parse_id(request.POST.get("priority", ""))
        if priority is None or priority > 10:
            self.message_user(
                request, "Choose a priority beside the action; nothing was changed.", messages.ERROR
            )
            return
        rows = self._bulk_rows(request, queryset)
        if rows is None:
            return
        try:
            count = services.task_bulk_priority_update(
                task_ids=[t.pk for t in rows], priority=priority
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request, f"{count:,} task(s) set to priority {priority}.", messages.SUCCESS
        )


@admin.register(TaskDependency)
class TaskDependencyAdmin(BigTableAdmin):
    project_lookup = "task__workflow__project_id"
    form = TaskDependencyForm
    list_display = ("id", "task", "depends_on", "type", "created_at")
    list_select_related = ("task", "depends_on")
    list_filter = ("type",)
    raw_id_fields = ("task", "depends_on")
    ordering = ("-id",)
