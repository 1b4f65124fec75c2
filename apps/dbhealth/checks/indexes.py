"""Indexes: invalid, duplicate/covered, unused, and foreign keys without a supporting index."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db import connections
from django.db.models import Min
from django.utils import timezone

from apps.pg import routing

from .. import conf
from ..models import IndexUsageSnapshot
from ..runner import LOCKED, MAX_ROWS, USER_SCHEMAS, fetch, fetch_one, ident, qualified
from . import overview
from .base import FindingCandidate, Severity, finding, size
from .thirdparty import third_party_note

# One row per index a human manages: plain indexes and partitioned (parent) indexes; leaf
# indexes of partitions are summed into their root index (scans, tuples, size).
INDEXES_SQL = f"""
WITH leaf AS (
    SELECT pg_partition_root(s.indexrelid) AS root,
           sum(s.idx_scan)::bigint AS idx_scan, sum(s.idx_tup_read)::bigint AS idx_tup_read,
           sum(ic.relpages::bigint * current_setting('block_size')::bigint)::bigint AS size_bytes,
           count(*)::int AS parts
    FROM pg_stat_user_indexes s
    JOIN pg_class ic ON ic.oid = s.indexrelid
    WHERE ic.relispartition
    GROUP BY 1
)
SELECT i.indexrelid::bigint AS oid,
       n.nspname AS schema, t.relname AS table, ic.relname AS name,
       t.relkind AS table_kind, ic.relkind AS index_kind,
       am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       i.indisreplident AS is_replica_identity,
       i.indnkeyatts::int AS nkeyatts,
       i.indkey::int2[] AS keys, i.indclass::oid[]::bigint[] AS opclasses,
       i.indcollation::oid[]::bigint[] AS collations, i.indoption::int2[] AS options,
       (i.indrelid IN {LOCKED} OR i.indexrelid IN {LOCKED}) AS locked,
       -- pg_get_expr(…, relid) opens the table: not while a migration holds it.
       CASE WHEN i.indrelid IN {LOCKED} THEN NULL ELSE pg_get_expr(i.indexprs, i.indrelid) END AS expressions,
       CASE WHEN i.indrelid IN {LOCKED} THEN NULL ELSE pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       CASE WHEN i.indrelid IN {LOCKED} THEN '(table locked by another session)'
            ELSE pg_get_indexdef(i.indexrelid) END AS definition,
       (SELECT array_agg(a.attname ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns,
       con.conname AS constraint_name, con.contype AS constraint_type,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.idx_scan, 0) ELSE coalesce(s.idx_scan, 0) END AS idx_scan,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.idx_tup_read, 0) ELSE coalesce(s.idx_tup_read, 0) END AS idx_tup_read,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.size_bytes, 0)
            WHEN i.indexrelid IN {LOCKED} THEN ic.relpages::bigint * current_setting('block_size')::bigint
            ELSE pg_relation_size(i.indexrelid) END AS size_bytes,
       coalesce(leaf.parts, 0) AS partitions,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS being_built
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN leaf ON leaf.root = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE {USER_SCHEMAS} AND NOT ic.relispartition AND t.relkind IN ('r', 'p', 'm')
ORDER BY n.nspname, t.relname, ic.relname
LIMIT %s
"""


def fetch_indexes(limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    return fetch(INDEXES_SQL, [limit], timeout_ms=10_000)


# Statistics are per server: scans on the streaming standby, per root index, read there.
REPLICA_SCANS_SQL = """
SELECT n.nspname AS schema, ic.relname AS name, sum(s.idx_scan)::bigint AS idx_scan
FROM pg_stat_user_indexes s
JOIN pg_class ic ON ic.oid = coalesce(pg_partition_root(s.indexrelid), s.indexrelid)
JOIN pg_namespace n ON n.oid = ic.relnamespace
GROUP BY 1, 2
"""


def replica_index_scans() -> tuple[dict[tuple[str, str], int] | None, str]:
    """(scans per (schema, index) on the standby, status). No standby configured: ({}, "");
    one that cannot be read: (None, why), and then no index is called unused."""
    if not routing.configured():
        return {}, ""
    try:
        rows = fetch(REPLICA_SCANS_SQL, timeout_ms=5_000, using=routing.REPLICA)
    except Exception as exc:  # refused, timed out: the standby's usage is unknown
        connections[routing.REPLICA].close()
        return None, f"unavailable: {str(exc).strip()[:200]}"
    return {(r["schema"], r["name"]): r["idx_scan"] for r in rows}, "read"


FOREIGN_KEYS_SQL = f"""
SELECT con.oid::bigint AS oid, con.conname AS name, n.nspname AS schema, t.relname AS table,
       t.relkind AS table_kind,
       con.conkey::int2[] AS keys,
       (SELECT array_agg(a.attname ORDER BY k.ord)
          FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
       rn.nspname AS ref_schema, rt.relname AS ref_table,
       pg_stat_get_live_tuples(con.confrelid) AS ref_rows
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class rt ON rt.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rt.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND NOT t.relispartition AND {USER_SCHEMAS}
ORDER BY n.nspname, t.relname, con.conname
LIMIT %s
"""


def fetch_foreign_keys(limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    return fetch(FOREIGN_KEYS_SQL, [limit], timeout_ms=10_000)


def stats_reset_at():
    row = fetch_one(
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database() LIMIT 1"
    )
    return row["stats_reset"] if row else None


def _key_columns(ix: dict) -> list[tuple]:
    n = ix["nkeyatts"]
    return list(
        zip(
            ix["keys"][:n],
            ix["opclasses"][:n],
            ix["collations"][:n],
            ix["options"][:n],
            strict=True,
        )
    )


def _include_columns(ix: dict) -> set[int]:
    return set(ix["keys"][ix["nkeyatts"] :])


def _removable(ix: dict) -> bool:
    """Unique, primary-key, constraint-backing and replica-identity indexes are never dropped."""
    return not (
        ix["is_unique"] or ix["is_primary"] or ix["constraint_name"] or ix["is_replica_identity"]
    )


def _covered_by(x: dict, y: dict) -> bool:
    """Is index x redundant given index y (same table)? Unique/PK/constraint x never is."""
    if x["oid"] == y["oid"] or not _removable(x) or not x["is_valid"] or not y["is_valid"]:
        return False
    if x["locked"] or y["locked"]:  # no definition read: no verdict this time
        return False
    if (x["method"], x["predicate"], x["expressions"]) != (
        y["method"],
        y["predicate"],
        y["expressions"],
    ):
        return False
    xk, yk = _key_columns(x), _key_columns(y)
    if x["method"] == "btree":
        if len(xk) > len(yk) or yk[: len(xk)] != xk:
            return False
        if not _include_columns(x) <= set(y["keys"]):
            return False
    elif xk != yk or _include_columns(x) != _include_columns(y):
        return False
    identical = xk == yk and _include_columns(x) == _include_columns(y)
    if identical and _removable(y):
        return x["name"] > y["name"]  # report only one of an identical pair
    return True


def _supports_fk(ix: dict, fk_keys: list[list[int]]) -> bool:
    if ix["predicate"] is not None:
        return False
    keys = ix["keys"][: ix["nkeyatts"]]
    return any(len(keys) >= len(fk) and set(keys[: len(fk)]) == set(fk) for fk in fk_keys)


_DJANGO_NAME = re.compile(r".+_[0-9a-f]{8}$|.+_(idx|like|uniq)$")


def _django_note(ix: dict) -> str:
    """Indexes Django created belong to a model: remove them there, or migrations diverge;
    but the tables of Django itself and of libraries have no model of ours to change."""
    third_party = third_party_note(ix["table"]) if ix["schema"] == "public" else ""
    if third_party:
        return third_party
    if _DJANGO_NAME.match(ix["name"]) and ix["schema"] == "public":
        return (
            "Django-managed name: drop it through the model (db_index=False or Meta.indexes) "
            "and a migration using RemoveIndexConcurrently / SeparateDatabaseAndState"
        )
    return ""


def drop_sql(ix: dict) -> str:
    target = ident(ix["schema"], ix["name"])
    if ix["index_kind"] == "I":
        # PostgreSQL refuses CONCURRENTLY here, and a partition's own copy cannot be dropped
        # alone: the parent's DROP removes it from every partition at once.
        return (
            f"DROP INDEX {target};  -- partitioned index: drops it on every partition; takes "
            "ACCESS EXCLUSIVE on the table and each partition while it runs (no CONCURRENTLY)"
        )
    return f"DROP INDEX CONCURRENTLY {target};"


def _fk_index_sql(fk: dict, is_partitioned: bool) -> str:
    cols = ", ".join(ident(c) for c in fk["columns"])
    name = ident(f"{fk['table']}_{'_'.join(fk['columns'])}_fk_idx"[:63])
    table = ident(fk["schema"], fk["table"])
    if is_partitioned:
        return (
            f"CREATE INDEX {name} ON ONLY {table} ({cols});  -- then CREATE INDEX CONCURRENTLY on each "
            f"partition and ALTER INDEX {name} ATTACH PARTITION ..."
        )
    return f"CREATE INDEX CONCURRENTLY {name} ON {table} ({cols});"


def _recently_used_indexes() -> set[tuple[str, str]]:
    """Indexes with scans recorded by any retained snapshot (usage from before a stats reset)."""
    since = timezone.now() - timedelta(days=conf.get("SNAPSHOT_KEEP_DAYS"))
    return set(
        IndexUsageSnapshot.objects.filter(taken_at__gte=since, delta_scans__gt=0)
        .values_list("schema_name", "index_name")
        .distinct()
    )


def _observation_window(stats_reset) -> tuple[Any, dict[tuple[str, str], Any]]:
    """Since when scans are counted: the statistics reset, or (never reset) the first retained
    usage snapshot; and when each index was first snapshotted (a newer index is watched less)."""
    first_seen = {
        (r["schema_name"], r["index_name"]): r["first"]
        for r in IndexUsageSnapshot.objects.values("schema_name", "index_name").annotate(
            first=Min("taken_at")
        )
    }
    since = stats_reset or (min(first_seen.values()) if first_seen else None)
    return since, first_seen


def _observed_long_enough(ix, since, first_seen, min_days: int, now) -> bool:
    """An "unused" verdict needs UNUSED_MIN_DAYS of counting, for the index itself too."""
    if min_days <= 0:
        return True
    if since is None:
        return False
    start = since
    oldest = min(first_seen.values(), default=None)
    mine = first_seen.get((ix["schema"], ix["name"]))
    if mine is not None and oldest is not None and mine - oldest > timedelta(hours=1):
        start = max(since, mine)  # created after snapshots began: count from its first one
    return now - start >= timedelta(days=min_days)


def report() -> dict[str, Any]:
    db = overview.database_overview()
    indexes = fetch_indexes()
    fks = fetch_foreign_keys()
    replica_scans, replica_usage = replica_index_scans()
    used_before = _recently_used_indexes()
    min_bytes = conf.get("UNUSED_INDEX_MIN_BYTES")
    by_table: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for ix in indexes:
        by_table[(ix["schema"], ix["table"])].append(ix)
    fk_keys: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for fk in fks:
        fk_keys[(fk["schema"], fk["table"])].append(list(fk["keys"]))

    findings: list[FindingCandidate] = []
    observed_since, first_seen = _observation_window(db.get("stats_reset"))
    min_days = conf.get("UNUSED_MIN_DAYS")
    verdicts_from = observed_since + timedelta(days=min_days) if observed_since else None
    now = timezone.now()
    for ix in indexes:
        ix["flags"] = ["locked"] if ix["locked"] else []
        ix["qualified_name"] = qualified(ix["schema"], ix["name"])
        ix["qualified_table"] = qualified(ix["schema"], ix["table"])
        ix["replica_idx_scan"] = (replica_scans or {}).get((ix["schema"], ix["name"]))
        obj = f"{ix['schema']}.{ix['name']}"
        if not ix["is_valid"] and not ix["being_built"] and not ix["locked"]:
            ix["flags"].append("invalid")
            findings.append(_invalid_finding(ix, obj))
        for other in by_table[(ix["schema"], ix["table"])]:
            if _covered_by(ix, other):
                ix["flags"].append("duplicate")
                ix["covered_by"] = other["name"]
                exact = _key_columns(ix) == _key_columns(other)
                findings.append(
                    finding(
                        "index.duplicate",
                        obj,
                        f"Index {ix['qualified_name']} is {'a duplicate of' if exact else 'covered by'} "
                        f"{qualified(other['schema'], other['name'])}",
                        evidence={
                            "table": ix["qualified_table"],
                            "definition": ix["definition"],
                            "covered_by": other["definition"],
                            "size_bytes": ix["size_bytes"],
                            "django": _django_note(ix),
                        },
                        fix=drop_sql(ix),
                    )
                )
                break
        if (
            _removable(ix)
            and ix["is_valid"]
            and not ix["locked"]
            and ix["idx_scan"] == 0
            and replica_scans is not None
            and not ix["replica_idx_scan"]
            and ix["size_bytes"] >= min_bytes
            and not _supports_fk(ix, fk_keys[(ix["schema"], ix["table"])])
            and (ix["schema"], ix["name"]) not in used_before
            and _observed_long_enough(ix, observed_since, first_seen, min_days, now)
        ):
            ix["flags"].append("unused")
            big = ix["size_bytes"] >= conf.get("UNUSED_INDEX_WARNING_BYTES")
            findings.append(
                finding(
                    "index.unused",
                    obj,
                    f"Unused index {ix['qualified_name']} ({size(ix['size_bytes'])}, 0 scans)",
                    severity=Severity.WARNING if big else Severity.INFO,
                    evidence={
                        "table": ix["qualified_table"],
                        "definition": ix["definition"],
                        "size_bytes": ix["size_bytes"],
                        "idx_scan": ix["idx_scan"],
                        "observed_since": observed_since,
                        "verdicts_from": verdicts_from,
                        "replica_idx_scan": ix["replica_idx_scan"],
                        "why_it_might_be_wrong": (
                            "scans counted on the primary and the streaming standby"
                            if replica_usage
                            else "statistics are per server: a replica may use it"
                        ),
                        "django": _django_note(ix),
                    },
                    fix=drop_sql(ix),
                )
            )

    partitioned = {(ix["schema"], ix["table"]) for ix in indexes if ix["table_kind"] == "p"}
    partitioned |= {(fk["schema"], fk["table"]) for fk in fks if fk["table_kind"] == "p"}
    unindexed_fks = []
    for fk in fks:
        if any(i["locked"] for i in by_table[(fk["schema"], fk["table"])]):
            continue  # index definitions unread this time
        table_ix = [i for i in by_table[(fk["schema"], fk["table"])] if i["is_valid"]]
        if any(_supports_fk(i, [list(fk["keys"])]) for i in table_ix):
            continue
        fix = _fk_index_sql(fk, (fk["schema"], fk["table"]) in partitioned)
        unindexed_fks.append(
            {**fk, "qualified_table": qualified(fk["schema"], fk["table"]), "fix": fix}
        )
        findings.append(
            finding(
                "fk.unindexed",
                f"{fk['schema']}.{fk['table']}.{fk['name']}",
                f"Foreign key {fk['name']} on {qualified(fk['schema'], fk['table'])}"
                f"({', '.join(fk['columns'])}) has no supporting index",
                evidence={
                    "columns": fk["columns"],
                    "references": qualified(fk["ref_schema"], fk["ref_table"]),
                    "referenced_rows": fk["ref_rows"],
                    "why": "deletes/updates on the referenced table scan this table; joins lack an index",
                },
                fix=fix,
            )
        )
    for ix in indexes:
        for k in ("keys", "opclasses", "collations", "options"):
            ix[k] = list(ix[k] or [])
    return {
        "indexes": indexes,
        "foreign_keys": fks,
        "unindexed_foreign_keys": unindexed_fks,
        "observed_since": observed_since,
        "replica_usage": replica_usage,
        "unused_verdicts_from": verdicts_from,
        "unused_min_days": min_days,
        "unused_min_bytes": min_bytes,
        "unused_bytes": sum(ix["size_bytes"] for ix in indexes if "unused" in ix["flags"]),
        "findings": [f.as_dict() for f in findings],
    }


def _invalid_finding(ix: dict, obj: str) -> FindingCandidate:
    create = (
        ix["definition"]
        .replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
        .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1)
    )
    if ix["index_kind"] == "I":
        create = ix["definition"].replace(" ON ONLY ", " ON ", 1)
    fix = f"{drop_sql(ix)}\n{create};"
    if ix["is_unique"]:
        # Recreating a unique index fails again while the rows that broke it are there.
        fix = f"{_duplicates_query(ix)}\n{fix}"
    return finding(
        "index.invalid",
        obj,
        f"Invalid index {ix['qualified_name']} (a failed CREATE INDEX CONCURRENTLY?)",
        evidence={
            "table": ix["qualified_table"],
            "definition": ix["definition"],
            "django": _django_note(ix),
        },
        fix=fix,
    )


def _duplicates_query(ix: dict) -> str:
    n = ix["nkeyatts"]
    columns = (ix["columns"] or [])[:n]
    if ix["expressions"] or not columns or None in columns:
        return "-- first find and remove the rows that violate the unique key (an expression index)"
    cols = ", ".join(ident(c) for c in columns)
    where = f" WHERE {ix['predicate']}" if ix["predicate"] else ""
    return (
        "-- first find the rows that break it (a unique index cannot be rebuilt over them), "
        "remove or merge them, then rebuild:\n"
        f"SELECT {cols}, count(*) FROM {ident(ix['schema'], ix['table'])}{where} "
        f"GROUP BY {cols} HAVING count(*) > 1 LIMIT 100;"
    )
