"""Tables: sizes, dead tuples, vacuum/analyze times; partitioned tables rolled up to their root."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import conf
from ..runner import LOCKED, USER_SCHEMAS, fetch, ident, qualified
from . import partitions as partition_checks
from .base import FindingCandidate, Severity, check, finding, size

# Sizes: exact (pg_relation_size & co.) for ordinary tables, but from pg_class.relpages for
# partitions: the size functions take an AccessShareLock per relation, and a few thousand
# partitions x (heap + indexes + toast) overflow the lock table (max_locks_per_transaction).
# relpages is as of the last VACUUM / ANALYZE / CREATE INDEX of that partition.
# Locked relations (see LOCKED) fall back to relpages as well.
_LOCK_FREE = "c.relispartition OR c.oid IN " + LOCKED.replace("{", "{{").replace("}", "}}")
_HEAP = f"CASE WHEN {_LOCK_FREE} THEN c.relpages::bigint * {{bs}} ELSE pg_relation_size(c.oid) END"
_INDEXES = (
    f"CASE WHEN {_LOCK_FREE} OR EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid "
    f"AND x.indexrelid IN {LOCKED}) THEN (SELECT coalesce(sum(xc.relpages), 0)::bigint * {{bs}} "
    "FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid WHERE x.indrelid = c.oid) "
    "ELSE pg_indexes_size(c.oid) END"
)
_TOAST = (
    f"CASE WHEN {_LOCK_FREE} THEN (SELECT coalesce(sum(tc.relpages), 0)::bigint * {{bs}} "
    "FROM pg_class tc WHERE tc.oid = c.reltoastrelid) "
    "ELSE pg_table_size(c.oid) - pg_relation_size(c.oid) END"
)
_BS = "current_setting('block_size')::bigint"

_TABLE_COLUMNS = f"""
    sum({_HEAP.format(bs=_BS)})::bigint AS heap_bytes,
    sum({_INDEXES.format(bs=_BS)})::bigint AS index_bytes,
    sum({_TOAST.format(bs=_BS)})::bigint AS toast_bytes,
    sum(pg_stat_get_live_tuples(c.oid))::bigint AS live_tuples,
    sum(pg_stat_get_dead_tuples(c.oid))::bigint AS dead_tuples,
    sum(pg_stat_get_mod_since_analyze(c.oid))::bigint AS mod_since_analyze,
    sum(pg_stat_get_numscans(c.oid))::bigint AS seq_scan,
    sum((SELECT coalesce(sum(pg_stat_get_numscans(x.indexrelid)), 0) FROM pg_index x
          WHERE x.indrelid = c.oid))::bigint AS idx_scan,
    max(pg_stat_get_last_vacuum_time(c.oid)) AS last_vacuum,
    max(pg_stat_get_last_autovacuum_time(c.oid)) AS last_autovacuum,
    max(pg_stat_get_last_analyze_time(c.oid)) AS last_analyze,
    max(pg_stat_get_last_autoanalyze_time(c.oid)) AS last_autoanalyze
"""
# (The pg_stat_* functions rather than the pg_stat_user_tables view: the view aggregates
# pg_index for every row and, in a nested loop over thousands of partitions, costs seconds.)

TABLES_SQL = f"""
WITH rel AS (
    SELECT c.oid, CASE WHEN c.relispartition THEN pg_partition_root(c.oid) ELSE c.oid END AS root
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'm', 'p')
), agg AS (
    SELECT r.root, rn.nspname, rc.relname, rc.relkind,
           (count(*) FILTER (WHERE c.relkind <> 'p'))::int
             - CASE WHEN rc.relkind = 'p' THEN 0 ELSE 1 END AS partitions,
           {_TABLE_COLUMNS}
    FROM rel r
    JOIN pg_class c ON c.oid = r.oid
    JOIN pg_class rc ON rc.oid = r.root
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    GROUP BY r.root, rn.nspname, rc.relname, rc.relkind
)
SELECT root::bigint AS oid, nspname AS schema, relname AS name, relkind AS kind, partitions,
       heap_bytes, index_bytes, toast_bytes, live_tuples, dead_tuples, mod_since_analyze,
       seq_scan, idx_scan, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
FROM agg
ORDER BY heap_bytes + index_bytes + toast_bytes DESC, nspname, relname
LIMIT %s
"""


def fetch_tables(limit: int = 2_000) -> list[dict[str, Any]]:
    """Plain tables and matviews, and partitioned roots summed over all their partitions."""
    return fetch(TABLES_SQL, [limit], timeout_ms=15_000)


PARTITIONS_SQL = f"""
WITH page AS (
    SELECT t.relid, t.level
    FROM pg_partition_tree(%s::oid) t JOIN pg_class pc ON pc.oid = t.relid
    WHERE t.level > 0
    ORDER BY pc.relname
    LIMIT %s OFFSET %s
)
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       p.level::int AS level, pg_get_expr(c.relpartbound, 0) AS bound,
       {_TABLE_COLUMNS}
FROM page p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
GROUP BY c.oid, n.nspname, c.relname, c.relkind, p.level
ORDER BY c.relname
"""


def fetch_partitions(root_oid: int, *, limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    return fetch(PARTITIONS_SQL, [root_oid, limit, offset], timeout_ms=10_000)


def _dead_ratio(row: dict) -> float:
    total = row["live_tuples"] + row["dead_tuples"]
    return row["dead_tuples"] / total if total else 0.0


def report() -> dict[str, Any]:
    tables = fetch_tables()
    parts = partition_checks.health()
    part_by_oid = {p["oid"]: p for p in parts}
    findings: list[FindingCandidate] = []
    for t in tables:
        t["qualified_name"] = qualified(t["schema"], t["name"])
        t["total_bytes"] = t["heap_bytes"] + t["index_bytes"] + t["toast_bytes"]
        t["dead_ratio"] = round(_dead_ratio(t), 4)
        scans = t["seq_scan"] + t["idx_scan"]
        t["seq_scan_share"] = round(t["seq_scan"] / scans, 4) if scans else None
        t["partition_health"] = part_by_oid.get(t["oid"])
        if t["dead_tuples"] >= conf.get("DEAD_TUPLES_MIN") and t["dead_ratio"] >= conf.get(
            "DEAD_RATIO_WARNING"
        ):
            critical = t["dead_ratio"] >= conf.get("DEAD_RATIO_CRITICAL")
            findings.append(
                finding(
                    "table.dead_tuples",
                    f"{t['schema']}.{t['name']}",
                    f"{t['qualified_name']}: {t['dead_ratio']:.0%} dead tuples ({t['dead_tuples']:,})",
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    evidence={
                        "dead_tuples": t["dead_tuples"],
                        "live_tuples": t["live_tuples"],
                        "last_autovacuum": t["last_autovacuum"],
                        "last_vacuum": t["last_vacuum"],
                        "why": "autovacuum is not keeping up (or is blocked by a long transaction)",
                    },
                    fix=f"VACUUM (ANALYZE, VERBOSE) {ident(t['schema'], t['name'])};",
                )
            )
    findings += partition_checks.findings(parts)
    return {"tables": tables, "partitioned": parts, "findings": [f.as_dict() for f in findings]}


def partitions_page(root_oid: int, *, page: int = 1, per_page: int = 200) -> list[dict[str, Any]]:
    rows = fetch_partitions(root_oid, limit=per_page, offset=(page - 1) * per_page)
    for r in rows:
        r["qualified_name"] = qualified(r["schema"], r["name"])
        r["total_bytes"] = r["heap_bytes"] + r["index_bytes"] + r["toast_bytes"]
        r["dead_ratio"] = round(_dead_ratio(r), 4)
    return rows


@check("tables", "table.seq_scan_heavy")
def seq_scan_heavy(report: dict) -> Iterable[FindingCandidate]:
    """Tables of meaningful size read mostly by sequential scans (counts since the stats reset)."""
    for t in report["tables"]:
        if (
            t["heap_bytes"] >= conf.get("SEQ_SCAN_MIN_BYTES")
            and t["seq_scan"] >= conf.get("SEQ_SCAN_MIN")
            and t["seq_scan"] > t["idx_scan"]
        ):
            yield finding(
                "table.seq_scan_heavy",
                f"{t['schema']}.{t['name']}",
                f"{t['qualified_name']} ({size(t['heap_bytes'])}) is read by sequential scans "
                f"{t['seq_scan']:,} times vs {t['idx_scan']:,} index scans",
                severity=Severity.INFO,
                evidence={
                    "seq_scan": t["seq_scan"],
                    "idx_scan": t["idx_scan"],
                    "heap_bytes": t["heap_bytes"],
                    "live_tuples": t["live_tuples"],
                    "why_it_might_be_wrong": "reports and batch jobs read whole tables on purpose",
                },
                fix=(
                    "-- find the statements that scan it on Slow queries (or EXPLAIN them) and index "
                    "their WHERE/JOIN columns with CREATE INDEX CONCURRENTLY"
                ),
            )
