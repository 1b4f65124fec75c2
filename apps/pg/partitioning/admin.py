"""Admin building blocks for partitioned tables, shared by the events, runs and audit admins.

A partitioned model has a composite pk, which the admin cannot register; its unmanaged shadow
(`…Row`) is registered instead, read-only, through an admin built on `PartitionedShadowMixin`
(apps.core.admin.partitioned.PartitionedShadowAdmin adds the project's big-table base), whose
date-window filter bounds the partition key on both sides so the planner prunes to the window's
partitions (and leaves out the default partition and the empty ones created ahead).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..values import parse_id

WINDOWS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time (reads every partition)", None),
}
DEFAULT_WINDOW = "7d"
# Rows stamped slightly in the future (clock skew) stay visible; months ahead are pruned.
FUTURE_SLACK = timedelta(days=1)


def window_bounds(window: str, now=None):
    """(lower, upper) bounds of a named window, or None for "all"."""
    delta = WINDOWS[window][1]
    if delta is None:
        return None
    now = now or timezone.now()
    return now - delta, now + FUTURE_SLACK


class DateWindowFilter(admin.SimpleListFilter):
    """Time window on the partition key; the default (no parameter) is the last 7 days."""

    title = "time window"
    parameter_name = "window"
    field_name = "created_at"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in WINDOWS.items()]

    def selected(self) -> str:
        value = self.value()
        return value if value in WINDOWS else DEFAULT_WINDOW

    def choices(self, changelist):
        current = self.selected()
        for key, label in self.lookup_choices:
            yield {
                "selected": key == current,
                "query_string": changelist.get_query_string({self.parameter_name: key}),
                "display": label,
            }

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        bounds = window_bounds(self.selected())
        if bounds is None:
            return queryset
        lower, upper = bounds
        return queryset.filter(
            **{f"{self.field_name}__gte": lower, f"{self.field_name}__lt": upper}
        )


def date_window_filter(field_name: str) -> type[DateWindowFilter]:
    return type(
        f"{field_name.title()}WindowFilter", (DateWindowFilter,), {"field_name": field_name}
    )


class PartitionedShadowMixin:
    """Search and paging of a partitioned table's shadow model (mixed in before the ModelAdmin).

    Subclasses set `list_filter = (date_window_filter("<key>"), …choices-only filters)`,
    `ordering = ("-<key>",)`, `list_select_related`, and `exact_search_fields`: columns compared
    with `=` (index-friendly) instead of Django's `UPPER(col) LIKE '%term%'`.
    """

    exact_search_fields: tuple[str, ...] = ()
    list_per_page = 50

    def get_search_fields(self, request):
        # Non-empty so the admin shows the search box; the search itself is ours.
        return self.exact_search_fields or ("pk",)

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        pk = parse_id(term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        condition = Q()
        for field in self.exact_search_fields:
            condition |= Q(**{field: term})
        if not condition:
            return queryset.none(), False
        return queryset.filter(condition), False
