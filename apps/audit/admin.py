from django.apps import apps
from django.contrib import admin
from django.db.models import Q

from apps.core.admin.partitioned import PartitionedShadowAdmin
from apps.core.validation import parse_id
from apps.pg.partitioning.admin import date_window_filter

from .models import AuditEventRow


def audited_tables() -> list[str]:
    """Tables whose models carry the audit triggers (their rows are what row_pk names)."""
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if any(
            trigger.name.startswith("audit_") for trigger in getattr(model._meta, "triggers", ())
        )
    )


@admin.register(AuditEventRow)
class AuditEventAdmin(PartitionedShadowAdmin):
    hidden_from_scoped_staff = True  # the log of every project's rows
    list_display = ("created_at", "action", "table_name", "row_pk", "actor", "request_id")
    list_filter = (date_window_filter("created_at"), "action")
    list_select_related = ("actor",)
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    exact_search_fields = ("row_pk", "request_id")
    raw_id_fields = ("actor",)
    search_help_text = (
        "Exact match: a row's key or a request id; a number also finds the audit event with "
        "that id."
    )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # table_name = ANY(…) lets the (table_name, row_pk, created_at) index be probed once per
        # audited table; row_pk alone would have to scan it. Request ids have their own index.
        found = Q(table_name__in=audited_tables(), row_pk=term) | Q(request_id=term)
        if parse_id(term) is not None:
            found |= Q(pk=int(term))
        return queryset.filter(found), False
