"""Table and B-tree index bloat, estimated from the planner's statistics (no table is read).

Expected size = rows x estimated tuple width / usable page space (page header, fillfactor,
line pointers, MAXALIGN); bloat = actual pages - expected pages. The error bounds and why are in
docs/dbhealth.md. Only relations with statistics for every column are estimated, through the
app's login (pg_stats shows a column only to a role that may read it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS

from .. import conf
from ..runner import LOCKED, USER_SCHEMAS, fetch, ident, qualified
from .base import FindingCandidate, Severity, check, finding, size

# Heap: header 23 B + null bitmap, MAXALIGNed; data = sum of avg_width x (1 - null_frac), MAXALIGNed;
# + 4 B line pointer; page = block_size - 24 B header, x fillfactor.
TABLE_BLOAT_SQL = f"""
WITH t AS (
    SELECT c.oid, n.nspname AS schema, c.relname AS table, c.relpages::bigint AS pages,
           greatest(c.reltuples, 0)::float8 AS tuples,
           coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions)
                      WHERE option_name = 'fillfactor'), 100) AS fillfactor,
           count(a.attnum) AS natts, count(s.attname) AS nstats,
           bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls,
           coalesce(sum(s.avg_width * (1 - s.null_frac)), 0)::float8 AS data_width
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                        AND s.attname = a.attname AND NOT s.inherited
    WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND {USER_SCHEMAS}
      AND c.oid NOT IN {LOCKED}
    GROUP BY c.oid, n.nspname, c.relname, c.relpages, c.reltuples, c.reloptions
), e AS (
    SELECT *, current_setting('block_size')::bigint AS bs,
           ceil((23 + CASE WHEN has_nulls THEN ceil(natts / 8.0) ELSE 0 END) / 8.0) * 8
             + ceil(data_width / 8.0) * 8 + 4 AS tuple_bytes
    FROM t WHERE natts = nstats
)
SELECT schema, "table", pages * bs AS actual_bytes, tuples::bigint AS tuples, fillfactor,
       ceil(tuples * tuple_bytes / ((bs - 24) * fillfactor / 100.0))::bigint * bs AS expected_bytes
FROM e
WHERE pages * bs >= %s
ORDER BY pages DESC LIMIT %s
"""

# B-tree: index tuple 8 B + key data (+ null bitmap), MAXALIGNed, + 4 B line pointer; page =
# block_size - 24 B header - 16 B special space, x fillfactor (90 by default); + meta page
# and ~1 % inner pages. Expression indexes are skipped (their statistics live elsewhere).
INDEX_BLOAT_SQL = f"""
WITH i AS (
    SELECT ic.oid, n.nspname AS schema, ic.relname AS index, t.relname AS table,
           ic.relkind AS index_kind, ic.relpages::bigint AS pages,
           greatest(ic.reltuples, 0)::float8 AS tuples, x.indisunique AS is_unique,
           x.indisprimary AS is_primary,
           coalesce((SELECT option_value::int FROM pg_options_to_table(ic.reloptions)
                      WHERE option_name = 'fillfactor'), 90) AS fillfactor,
           count(k.attnum) AS natts, count(s.attname) AS nstats,
           bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls,
           coalesce(sum(s.avg_width * (1 - s.null_frac)), 0)::float8 AS data_width
    FROM pg_index x
    JOIN pg_class ic ON ic.oid = x.indexrelid
    JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN unnest(x.indkey::int2[]) k(attnum) ON true
    LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname
                        AND s.attname = a.attname AND NOT s.inherited
    WHERE ic.relkind = 'i' AND ic.relpages > 1 AND x.indexprs IS NULL AND x.indisvalid
      AND {USER_SCHEMAS} AND t.oid NOT IN {LOCKED} AND ic.oid NOT IN {LOCKED}
    GROUP BY ic.oid, n.nspname, ic.relname, t.relname, ic.relkind, ic.relpages, ic.reltuples,
             x.indisunique, x.indisprimary, ic.reloptions
), e AS (
    SELECT *, current_setting('block_size')::bigint AS bs,
           ceil((8 + CASE WHEN has_nulls THEN 4 ELSE 0 END + data_width) / 8.0) * 8 + 4 AS tuple_bytes
    FROM i WHERE natts = nstats
)
SELECT schema, "table", index, is_unique, is_primary, pages * bs AS actual_bytes,
       tuples::bigint AS tuples, fillfactor,
       (ceil(ceil(tuples * tuple_bytes / ((bs - 40) * fillfactor / 100.0)) * 1.01) + 1)::bigint * bs
         AS expected_bytes
FROM e
WHERE pages * bs >= %s
ORDER BY pages DESC LIMIT %s
"""


def _estimates(query: str) -> list[dict]:
    rows = fetch(
        query,
        [conf.get("BLOAT_MIN_BYTES"), 1_000],
        using=DEFAULT_DB_ALIAS,
        read_only=True,
        timeout_ms=10_000,
    )
    for r in rows:
        r["bloat_bytes"] = max(int(r["actual_bytes"]) - int(r["expected_bytes"]), 0)
        r["bloat_ratio"] = r["bloat_bytes"] / r["actual_bytes"] if r["actual_bytes"] else 0.0
    return rows


def _flagged(r: dict) -> bool:
    return r["bloat_bytes"] >= conf.get("BLOAT_MIN_BYTES") and r["bloat_ratio"] >= conf.get(
        "BLOAT_RATIO_WARNING"
    )


@check("tables", "table.bloat")
def table_bloat(report: dict) -> Iterable[FindingCandidate]:
    report["bloat"] = rows = _estimates(TABLE_BLOAT_SQL)
    for r in rows:
        if not _flagged(r):
            continue
        yield finding(
            "table.bloat",
            f"{r['schema']}.{r['table']}",
            f"{qualified(r['schema'], r['table'])}: about {size(r['bloat_bytes'])} "
            f"({r['bloat_ratio']:.0%}) of {size(r['actual_bytes'])} is bloat (estimate)",
            severity=Severity.WARNING,
            evidence={k: r[k] for k in ("actual_bytes", "expected_bytes", "bloat_bytes",
                                        "bloat_ratio", "tuples", "fillfactor")}
            | {"method": "statistics-based estimate; see docs/dbhealth.md for its error bounds"},
            fix=(
                f"VACUUM (FULL, ANALYZE) {ident(r['schema'], r['table'])};"
                "  -- rewrites the table under ACCESS EXCLUSIVE (blocks reads and writes); "
                "pg_repack does it without the long lock"
            ),
        )  # fmt: skip


@check("indexes", "index.bloat")
def index_bloat(report: dict) -> Iterable[FindingCandidate]:
    report["index_bloat"] = rows = _estimates(INDEX_BLOAT_SQL)
    for r in rows:
        if not _flagged(r):
            continue
        yield finding(
            "index.bloat",
            f"{r['schema']}.{r['index']}",
            f"Index {qualified(r['schema'], r['index'])}: about {size(r['bloat_bytes'])} "
            f"({r['bloat_ratio']:.0%}) of {size(r['actual_bytes'])} is bloat (estimate)",
            severity=Severity.WARNING,
            evidence={k: r[k] for k in ("table", "actual_bytes", "expected_bytes", "bloat_bytes",
                                        "bloat_ratio", "tuples", "fillfactor")}
            | {"method": "statistics-based estimate; see docs/dbhealth.md for its error bounds"},
            fix=(
                f"REINDEX INDEX CONCURRENTLY {ident(r['schema'], r['index'])};"
                "  -- builds a fresh copy beside it: no lock on reads or writes, twice the space meanwhile"
            ),
        )  # fmt: skip
