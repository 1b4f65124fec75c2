from django.contrib import admin

from apps.core.admin.partitioned import PartitionedShadowAdmin
from apps.core.validation import parse_id
from apps.pg.partitioning.admin import date_window_filter

from .models import FormResponseRow, FormSchema, NodeExecutionRow, WorkflowRunRow


@admin.register(WorkflowRunRow)
class WorkflowRunAdmin(PartitionedShadowAdmin):
    project_lookup = "workflow__project_id"
    list_display = ("id", "started_at", "workflow", "status", "completed_at", "duration_ms")
    list_filter = (date_window_filter("started_at"), "status")
    list_select_related = ("workflow",)
    ordering = ("-started_at",)
    sortable_by = ("started_at",)
    raw_id_fields = ("workflow",)


@admin.register(NodeExecutionRow)
class NodeExecutionAdmin(PartitionedShadowAdmin):
    project_lookup = "run_id"  # by value: filter_by_projects goes through the runs

    def filter_by_projects(self, queryset, project_ids):
        runs = WorkflowRunRow.objects.filter(workflow__project_id__in=project_ids)
        return queryset.filter(run_id__in=runs.values("id"))

    def project_of(self, obj):
        run = WorkflowRunRow.objects.filter(id=obj.run_id).select_related("workflow").first()
        return run.workflow.project_id if run else None

    list_display = ("started_at", "run_id", "node_id", "node_type", "status", "duration_ms")
    list_filter = (date_window_filter("started_at"), "status")
    ordering = ("-started_at",)
    sortable_by = ("started_at",)
    exact_search_fields = ("node_id", "node_type")

    def get_search_results(self, request, queryset, search_term):
        # A number here means "the nodes of run N" (index on run_id), not a node-execution id.
        run_id = parse_id(search_term)
        if run_id is not None:
            return queryset.filter(run_id=run_id), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(FormSchema)
class FormSchemaAdmin(admin.ModelAdmin):
    shared_with_scoped_staff = True  # no project's rows: every member may read them
    list_display = ("name", "version", "created_at")
    search_fields = ("name",)
    ordering = ("name", "-version")


@admin.register(FormResponseRow)
class FormResponseAdmin(PartitionedShadowAdmin):
    list_display = ("id", "submitted_at", "form_schema", "workflow_run_id")
    list_filter = (date_window_filter("submitted_at"),)
    list_select_related = ("form_schema",)
    ordering = ("-submitted_at",)
    sortable_by = ("submitted_at",)
    raw_id_fields = ("form_schema",)
