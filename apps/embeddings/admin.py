from django.contrib import admin
from django.db.models import QuerySet

from apps.core.admin import BigTableAdmin, ReadOnlyAdminMixin
from apps.core.validation import parse_id

from . import selectors
from .models import Embedding, StaleReason


class StalenessFilter(admin.SimpleListFilter):
    title = "staleness"
    parameter_name = "staleness"

    def lookups(self, request, model_admin):
        return (("fresh", "Fresh"), ("stale", "Stale (any reason)"), *StaleReason.choices[1:])

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "fresh":
            return queryset.filter(stale_since__isnull=True)
        if value == "stale":
            return queryset.filter(stale_since__isnull=False)
        if value in StaleReason.values and value:
            return queryset.filter(stale_reason=value)
        return queryset


@admin.register(Embedding)
class EmbeddingAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Written by the vector-store sync only; staff read it, with the usage summary on top."""

    change_list_template = "admin/embeddings/embedding/change_list.html"
    list_display = (
        "id",
        "entity_type",
        "entity_id",
        "chunk",
        "provider",
        "namespace",
        "model_name",
        "dimension",
        "external_id",
        "stale_reason",
        "stale_since",
        "usage_count",
        "last_used_at",
        "embedded_at",
    )
    # Choices-only filters (no DISTINCT over the table); provider/namespace/model come from the
    # summary's links as exact lookups (`?provider=…&namespace=…&model_name=…`).
    list_filter = ("entity_type", StalenessFilter)
    search_fields = ("external_id",)
    ordering = ("-id",)
    sortable_by = ("id",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        pk = parse_id(term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        return queryset.filter(external_id=term), False  # embedding_external_id_idx

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "usage_summary": selectors.embedding_usage_summary(),
        }
        return super().changelist_view(request, extra_context=extra_context)
