"""Counting without COUNT(*) over big tables (admin-and-style.md §1.2).

Unfiltered lists take the planner's estimate (sum of reltuples over the leaf partitions, so
partitioned parents work too); filtered lists, or tables too small to matter, get an exact
count capped at `cap` rows, so one page load never counts more than `cap + 1` rows.
"""

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections

from apps.pg import routing

# pg_partition_tree() lists nothing for an ordinary table, hence the fallback to its own row.
ESTIMATE_SQL = """
SELECT COALESCE(
    (SELECT SUM(GREATEST(c.reltuples, 0))
       FROM pg_partition_tree(%(table)s::regclass) t
       JOIN pg_class c ON c.oid = t.relid
      WHERE t.isleaf),
    (SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %(table)s::regclass),
    0)::bigint
"""


def estimated_row_count(db_table: str, using: str = "default") -> int:
    """Planner estimate of a table's rows; `db_table` as in Meta (may be 'schema"."table')."""
    with connections[using].cursor() as cursor:
        cursor.execute(ESTIMATE_SQL, {"table": f'"{db_table}"'})
        return int(cursor.fetchone()[0])


def count_queryset(qs):
    """The rows of `qs` without what only the page needs: no ORDER BY (the count would sort, or
    walk an index in order, for nothing), no annotations or joins in the select list (ts_rank)."""
    return qs.order_by().values("pk")


class EstimatedCountPaginator(Paginator):
    cap = 10_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_is_estimate = False
        self.count_is_capped = False
        # The admin gives its per-request estimate (shared with the sort check).
        self.row_estimate = lambda using: estimated_row_count(
            self.object_list.model._meta.db_table, using
        )

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        query = getattr(qs, "query", None)
        if query is None:  # a plain list
            return len(qs)
        # A count may be a little behind: the replica's, while it is close (apps.pg.routing).
        return routing.on_replica(lambda: self._count(qs), qs.model)

    def _count(self, qs) -> int:
        query = qs.query
        if not query.where:
            estimate = self.row_estimate(qs.db)
            if estimate > self.cap:
                self.count_is_estimate = True
                return estimate
        exact = count_queryset(qs)[: self.cap + 1].count()
        if exact > self.cap:
            self.count_is_capped = True
            return self.cap
        return exact
