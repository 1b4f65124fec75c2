"""The changelist of a big table: sorts an index can serve, bounded OFFSETs, keyset beyond them.

- `?o=` is checked against the admin's sortable columns (Django only hides the other headers;
  a typed `?o=` would sort by any column): anything else falls back to the default order with
  a message.
- The primary-key tie-breaker takes the direction of the sort before it, so `ORDER BY x, id`
  runs forwards or backwards along an index on (x, id) instead of re-sorting each group of x.
- Numbered pages stop at `max_offset` rows; from there "Older" links carry a cursor
  (`?after=<last row's keys>`) and the next page is `WHERE key <= last AND (key < last OR id <
  last_id)`: an index range, however deep.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet

CURSOR_VAR = "after"
CURSOR_SEP = "~"


class BigTableChangeList(ChangeList):
    max_offset = 10_000

    def __init__(self, request, *args, **kwargs):
        self.cursor_token = request.GET.get(CURSOR_VAR, "")
        self.keyset_next_url = ""
        self._current_ordering: list = []
        super().__init__(request, *args, **kwargs)

    # --- parameters ---------------------------------------------------------------------------

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)  # ours, not a field lookup
        return lookup_params

    # --- ordering -------------------------------------------------------------------------------

    def get_ordering(self, request, queryset):
        requested = self.params.get(ORDER_VAR)
        if (
            self.query
            and not requested
            and getattr(self.model_admin, "search_ranks_results", False)
        ):
            # A ranked search's own order (best match first) comes before the default order.
            return self._get_deterministic_ordering(list(queryset.query.order_by))
        if requested and not self._sort_offered(requested):
            messages.warning(
                request,
                "This list cannot be sorted that way (no index serves it): "
                "showing the default order.",
            )
            del self.params[ORDER_VAR]  # the headers and links then show the default too
        return super().get_ordering(request, queryset)

    def _sort_offered(self, requested: str) -> bool:
        for part in requested.split("."):
            index = part.removeprefix("-")
            if not index.isascii() or not index.isdigit() or int(index) >= len(self.list_display):
                return False
            if self.list_display[int(index)] not in self.sortable_by:
                return False
        return True

    def _get_deterministic_ordering(self, ordering):
        ordering = super()._get_deterministic_ordering(ordering)
        # The pk tie-breaker (Django's "-pk", or the queryset's own "-id") comes whatever the
        # direction before it: follow that direction instead.
        if len(ordering) < 2 or not all(isinstance(part, str) for part in ordering[-2:]):
            return ordering
        previous, last = ordering[-2], ordering[-1]
        pk = self.lookup_opts.pk
        if last.lstrip("-") in ("pk", pk.name, pk.attname) and previous.lstrip("-") != last.lstrip(
            "-"
        ):
            ordering[-1] = ("-" if previous.startswith("-") else "") + last.lstrip("-")
        return ordering

    # --- keyset ---------------------------------------------------------------------------------

    def keyset_fields(self) -> list[tuple[object, bool]] | None:
        """[(field, descending)] when the page order is plain columns ending with the pk."""
        ordering = self._current_ordering
        if not ordering or any(not isinstance(part, str) for part in ordering):
            return None
        fields = []
        for part in ordering:
            descending = part.startswith("-")
            name = part.lstrip("-")
            try:
                field = self.lookup_opts.pk if name == "pk" else self.lookup_opts.get_field(name)
            except FieldDoesNotExist:
                return None
            if not field.concrete or field.is_relation or field.null:
                return None
            fields.append((field, descending))
        if fields[-1][0] is not self.lookup_opts.pk or len({d for _, d in fields}) != 1:
            return None
        return fields

    def get_queryset(self, request, exclude_parameters=None):
        qs = super().get_queryset(request, exclude_parameters)
        self._current_ordering = list(qs.query.order_by)
        if self.cursor_token:
            condition = self._cursor_condition()
            if condition is None:
                messages.warning(request, "That 'Older' link no longer applies: first page shown.")
                self.cursor_token = ""
            else:
                qs = qs.filter(condition)
        return qs

    def _cursor_condition(self) -> Q | None:
        fields = self.keyset_fields()
        if fields is None:
            return None
        raw = self.cursor_token.split(CURSOR_SEP)
        if len(raw) != len(fields):
            return None
        try:
            values = [field.to_python(value) for (field, _), value in zip(fields, raw, strict=True)]
        except (ValidationError, ValueError, TypeError, OverflowError):
            return None
        if any(value is None for value in values):
            return None
        op = "lt" if fields[0][1] else "gt"
        # Lexicographic (a, b, …) beyond the cursor; the leading `<=` bounds the index range.
        after = Q()
        for depth in range(len(fields) - 1, -1, -1):
            equal = {fields[i][0].attname: values[i] for i in range(depth)}
            after |= Q(**equal, **{f"{fields[depth][0].attname}__{op}": values[depth]})
        lead = fields[0][0].attname
        return Q(**{f"{lead}__{op}e": values[0]}) & after

    # --- pages ----------------------------------------------------------------------------------

    def get_results(self, request):
        per_page = max(self.list_per_page, 1)
        last_numbered = max(1, self.max_offset // per_page)
        if self.cursor_token:
            self.page_num = 1
        elif self.page_num > last_numbered:
            messages.info(
                request,
                f"Numbered pages stop at {last_numbered}: follow “Older” from there.",
            )
            self.page_num = last_numbered
        super().get_results(request)
        if self.paginator.num_pages > last_numbered and not self.cursor_token:
            self.paginator.num_pages = last_numbered  # cached_property: the links stop here
        if getattr(self.model_admin, "page_keys_first", False):
            self._fetch_keys_first()
        self._set_keyset_next_url(per_page)

    def _fetch_keys_first(self) -> None:
        """The page's keys first, then its rows: `SELECT pk … ORDER BY … LIMIT n` can be an
        index-only range where the whole-row query would walk the pk past every row the filter
        drops (the planner takes a filter's rows for evenly spread; they seldom are)."""
        page = self.result_list
        if not isinstance(page, QuerySet) or page._result_cache is not None:
            return
        keys = list(page.values_list("pk", flat=True))
        rows = {row.pk: row for row in self.queryset.filter(pk__in=keys)} if keys else {}
        self.result_list = [rows[key] for key in keys if key in rows]

    def _set_keyset_next_url(self, per_page: int) -> None:
        fields = self.keyset_fields()
        rows = list(self.result_list) if fields else []
        if not fields or len(rows) < per_page or self.show_all:
            return
        if not self.cursor_token and self.page_num * per_page >= self.result_count:
            return
        last = rows[-1]
        token = CURSOR_SEP.join(
            field.value_to_string(last) if not field.primary_key else str(last.pk)
            for field, _ in fields
        )
        self.keyset_next_url = self.get_query_string({CURSOR_VAR: token}, remove=[PAGE_VAR])
