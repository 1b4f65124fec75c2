"""Index definitions that do not fit their data: B-trees on arrays/JSONB, duplicates that differ
only in sort direction, and indexes whose leading column is mostly NULL (a partial index would
do). Reads the Index usage report's rows; column statistics through the app's login (pg_stats
shows a column's statistics only to a role that may read it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS

from .. import conf
from ..runner import USER_SCHEMAS, fetch, ident
from .base import FindingCandidate, Severity, check, finding
from .indexes import _include_columns, _removable, drop_sql

# Key columns of B-tree indexes whose type is an array or jsonb (no B-tree answers @> or ?).
BTREE_CONTAINER_SQL = f"""
SELECT i.indexrelid::bigint AS oid, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type,
       i.indnkeyatts::int AS nkeyatts
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) ON k.ord <= i.indnkeyatts
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
JOIN pg_type t ON t.oid = a.atttypid
WHERE (t.typcategory = 'A' OR t.oid = 'jsonb'::regtype) AND NOT ic.relispartition AND {USER_SCHEMAS}
LIMIT %s
"""

# Leading column's NULL fraction per (non-partial, plain-column) B-tree index, with table rows.
LEADING_NULLS_SQL = f"""
SELECT i.indexrelid::bigint AS oid, a.attname AS column_name, s.null_frac::float8 AS null_frac,
       greatest(t.reltuples, 0)::bigint AS table_rows
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
WHERE i.indkey[0] <> 0 AND i.indpred IS NULL AND NOT ic.relispartition AND {USER_SCHEMAS}
  AND s.null_frac >= %s AND t.reltuples >= %s
LIMIT %s
"""


def _by_oid(report: dict) -> dict[int, dict]:
    return {ix["oid"]: ix for ix in report.get("indexes", [])}


@check("indexes", "index.btree_container")
def btree_on_arrays_or_jsonb(report: dict) -> Iterable[FindingCandidate]:
    indexes = _by_oid(report)
    for r in fetch(BTREE_CONTAINER_SQL, [2_000]):
        ix = indexes.get(r["oid"])
        if ix is None or ix["locked"] or not _removable(ix):
            continue
        obj = f"{ix['schema']}.{ix['name']}"
        if r["nkeyatts"] == 1 and not _include_columns(ix):
            gin = _create_sql(ix, f" USING gin ({ident(r['column_name'])})")
            fix = f"{drop_sql(ix)}\n{gin}  -- GIN answers @>, <@, && and ? ; B-tree only ="
        else:
            fix = "-- a multi-column B-tree over an array/jsonb: move that column to a GIN index"
        yield finding(
            "index.btree_container",
            obj,
            f"B-tree index {ix['qualified_name']} on {r['type']} column {r['column_name']}",
            severity=Severity.INFO,
            evidence={"definition": ix["definition"], "column_type": r["type"]},
            fix=fix,
        )


def _create_sql(ix: dict, body: str) -> str:
    concurrently = "" if ix["index_kind"] == "I" else "CONCURRENTLY "
    table = ident(ix["schema"], ix["table"])
    return f"CREATE INDEX {concurrently}{ident(ix['name'])} ON {table}{body};"


def _inverted(x: dict, y: dict) -> bool:
    """Same key columns, opclasses, collations, but every direction/NULLS order flipped: a
    B-tree scanned backwards is the other index."""
    n = x["nkeyatts"]
    if n != y["nkeyatts"] or x["keys"][:n] != y["keys"][:n]:
        return False
    if x["opclasses"][:n] != y["opclasses"][:n] or x["collations"][:n] != y["collations"][:n]:
        return False
    return all((a ^ 3) == b for a, b in zip(x["options"][:n], y["options"][:n], strict=True))


@check("indexes", "index.desc_duplicate")
def direction_only_duplicates(report: dict) -> Iterable[FindingCandidate]:
    by_table: dict[tuple, list[dict]] = defaultdict(list)
    for ix in report.get("indexes", []):
        if ix["method"] == "btree" and ix["is_valid"] and not ix["locked"]:
            by_table[(ix["schema"], ix["table"])].append(ix)
    for group in by_table.values():
        for x in group:
            for y in group:
                if x["oid"] == y["oid"] or not _removable(x) or not _inverted(x, y):
                    continue
                if (x["predicate"], x["expressions"]) != (y["predicate"], y["expressions"]):
                    continue
                if _include_columns(x) != _include_columns(y):
                    continue
                # Of two removable twins report one: the DESC one (else by name).
                if _removable(y) and (bool(y["options"][0] & 1), x["name"]) > (
                    bool(x["options"][0] & 1),
                    y["name"],
                ):
                    continue
                yield finding(
                    "index.desc_duplicate",
                    f"{x['schema']}.{x['name']}",
                    f"Index {x['qualified_name']} differs from {y['name']} only in sort direction",
                    evidence={
                        "definition": x["definition"],
                        "twin": y["definition"],
                        "why": "a B-tree is read backwards as cheaply as forwards",
                    },
                    fix=drop_sql(x),
                )
                break


@check("indexes", "index.mostly_null")
def leading_column_mostly_null(report: dict) -> Iterable[FindingCandidate]:
    indexes = _by_oid(report)
    rows = fetch(
        LEADING_NULLS_SQL,
        [conf.get("NULL_INDEX_FRACTION"), conf.get("NULL_INDEX_MIN_ROWS"), 2_000],
        using=DEFAULT_DB_ALIAS,
        read_only=True,
    )
    for r in rows:
        ix = indexes.get(r["oid"])
        if ix is None or ix["locked"] or not _removable(ix):
            continue
        partial = ix["definition"].rstrip(";") + f" WHERE {ident(r['column_name'])} IS NOT NULL"
        new_name = ident(f"{ix['name'][:54]}_notnull")
        partial = partial.replace(" ON ONLY ", " ON ", 1).replace(
            f"INDEX {ident(ix['name'])} ON",
            f"INDEX {'' if ix['index_kind'] == 'I' else 'CONCURRENTLY '}{new_name} ON",
            1,
        )
        yield finding(
            "index.mostly_null",
            f"{ix['schema']}.{ix['name']}",
            f"Index {ix['qualified_name']}: {r['null_frac']:.0%} of {r['column_name']} is NULL",
            severity=Severity.INFO,
            evidence={
                "definition": ix["definition"],
                "null_frac": r["null_frac"],
                "table_rows": r["table_rows"],
                "size_bytes": ix["size_bytes"],
                "why_it_might_be_wrong": f"a query filtering {r['column_name']} IS NULL needs the full index",
            },
            fix=f"{partial};\n{drop_sql(ix)}",
        )
