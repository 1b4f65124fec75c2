"""One base for every ModelAdmin over a table that can grow large (admin-and-style.md §1.4)."""

from django.contrib import admin
from django.db.models import QuerySet

from apps.core.validation import parse_id
from apps.pg import routing

from .changelist import BigTableChangeList
from .paginator import EstimatedCountPaginator, estimated_row_count
from .sorting import index_sortable


class BigTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200
    date_hierarchy = None
    # Subclasses name the FKs they display; never rely on Django's guess.
    list_select_related: tuple[str, ...] | bool = ()
    # A search term made only of digits is looked up as a primary key (index probe).
    search_by_id = True
    # Rows (planner estimate) from which a sort must follow an index.
    sorts_need_index_above = 20_000

    def get_changelist(self, request, **kwargs):
        return BigTableChangeList

    def get_sortable_by(self, request):
        """On a big table, the declared sortable columns (all of list_display by default) that
        an index can serve: any other sort reads and sorts every row for one page."""
        offered = super().get_sortable_by(request)
        if self.row_estimate(request) <= self.sorts_need_index_above:
            return offered
        return [name for name in offered if isinstance(name, str) and self._sortable(name)]

    def row_estimate(self, request, using: str = "default") -> int:
        """The planner's row estimate, read once per request: the sort check and the
        paginator's count both need it."""
        table = self.model._meta.db_table
        memo = {} if request is None else request.__dict__.setdefault("_row_estimates", {})
        if (table, using) not in memo:
            memo[(table, using)] = estimated_row_count(table, using)
        return memo[(table, using)]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(
            request,
            queryset,
            per_page,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
        )
        if isinstance(paginator, EstimatedCountPaginator):
            paginator.row_estimate = lambda using: self.row_estimate(request, using)
        return paginator

    def _sortable(self, name: str) -> bool:
        attr = getattr(self, name, None) or getattr(self.model, name, None)
        order_field = getattr(attr, "admin_order_field", None) if callable(attr) else None
        if isinstance(order_field, str):
            return index_sortable(self.model, order_field.lstrip("-"))
        return index_sortable(self.model, name)

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        pk = parse_id(search_term) if self.search_by_id else None
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


class ReadOnlyAdminMixin:
    """For rows written only by the database or by services (logs, audit, shadows)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReplicaChangeListMixin:
    """The changelist's rows and count are read on the replica while it is close behind
    (apps.pg.routing): for lists that are a little stale by nature, e.g. materialized views."""

    def changelist_view(self, request, extra_context=None):
        base = super()
        if request.method != "GET":
            return base.changelist_view(request, extra_context)

        def rendered():
            response = base.changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()  # the rows are read while the template renders
            return response

        return routing.on_replica(rendered, self.model)
