"""Catalog readers more than one app needs: columns, partitioned tables, partitions, default
partition rows. Plain functions over `sql.fetch`; `using` picks the login (the monitor login sees
statistics but no rows, so row counts of a default partition can go through a SECURITY DEFINER
function instead: `count_function`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from . import sql

Runner = Callable[..., list[dict[str, Any]]]

# --- columns ---------------------------------------------------------------------------------

TABLE_COLUMNS = """
SELECT a.attname AS name, quote_ident(a.attname) AS quoted,
       format_type(a.atttypid, a.atttypmod) AS type
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY a.attnum
LIMIT 2000
"""


@dataclass(frozen=True)
class Column:
    name: str
    quoted: str  # quote_ident(name): ready to paste into SQL
    type: str  # format_type(): 'bigint', 'character varying(200)', ...


def table_columns(
    table: str, *, using: str = DEFAULT_DB_ALIAS, run: Runner = sql.fetch
) -> list[Column] | None:
    """Columns of a table, view or matview ('name' on the search_path, or 'schema.name'), in
    column order; None when it does not exist. `run`: another runner (e.g. a sandboxed one)."""
    rows = run(TABLE_COLUMNS, [table], using=using)
    if not rows:
        return None
    return [Column(r["name"], r["quoted"], r["type"]) for r in rows if r["name"] is not None]


def schema_of(table: str, *, using: str = DEFAULT_DB_ALIAS) -> str:
    """The schema a table name resolves to on the search path ('public' if it is missing)."""
    row = sql.fetch_one(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass(%s)",
        [table],
        using=using,
    )
    return row["nspname"] if row else "public"


# --- partitions ------------------------------------------------------------------------------

PARTITIONED_TABLES = """
SELECT c.relname
FROM pg_partitioned_table p
JOIN pg_class c ON c.oid = p.partrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
ORDER BY c.relname
"""

# Bounds of timestamptz range partitions print as FROM ('…') TO ('…'); MINVALUE/MAXVALUE and
# DEFAULT partitions give NULL. reltuples is -1 until the partition is first analyzed.
PARTITIONS = r"""
SELECT n.nspname AS schema,
       c.relname AS name,
       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $$FROM \('([^']+)'\)$$)::timestamptz
         AS range_from,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $$TO \('([^']+)'\)$$)::timestamptz
         AS range_to,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       c.reltuples::bigint AS reltuples,
       pg_total_relation_size(c.oid) AS total_bytes,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = %s::regclass
ORDER BY is_default, 4, c.relname
"""


@dataclass(frozen=True)
class PartitionInfo:
    parent: str
    schema: str
    name: str
    is_default: bool
    range_from: datetime | None
    range_to: datetime | None
    bound: str
    row_estimate: int | None  # None: never analyzed (reltuples = -1)
    total_bytes: int
    comment: str | None

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("range_from", "range_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def partitioned_table_list(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Names of all partitioned (parent) tables in the current schema."""
    return [r["relname"] for r in sql.fetch(PARTITIONED_TABLES, using=using)]


def partition_list(table: str, using: str = DEFAULT_DB_ALIAS) -> list[PartitionInfo]:
    """Partitions of `table`, ranges in order, the default partition last."""
    return [
        PartitionInfo(
            parent=table,
            schema=r["schema"],
            name=r["name"],
            is_default=r["is_default"],
            range_from=r["range_from"],
            range_to=r["range_to"],
            bound=r["bound"],
            row_estimate=None if r["reltuples"] < 0 else r["reltuples"],
            total_bytes=r["total_bytes"],
            comment=r["comment"],
        )
        for r in sql.fetch(PARTITIONS, [table], using=using)
    ]


def default_partition_rows(
    schema: str,
    name: str,
    *,
    cap: int,
    using: str = DEFAULT_DB_ALIAS,
    count_function: str | None = None,
    run: Runner = sql.fetch,
) -> int:
    """Exact row count of one default partition, counting at most `cap` rows.

    `count_function`: a SECURITY DEFINER `(regclass, bigint) -> bigint` doing the same count, for
    a login that may not read the rows (NULL from it, no privilege, counts as 0)."""
    if count_function:
        query = sql.SQL("SELECT {}(%s::regclass, %s) AS n LIMIT 1").format(
            sql.Identifier("public", count_function)
        )
        rows = run(query, [sql.quote(schema, name), cap], using=using)
    else:
        query = sql.SQL("SELECT count(*) AS n FROM (SELECT 1 FROM {} LIMIT %s) q").format(
            sql.Identifier(schema, name)
        )
        rows = run(query, [max(cap, 0)], using=using)
    return int(rows[0]["n"] or 0) if rows else 0


def key_range(
    schema: str, partition: str, key: str, *, limit: int, using: str = DEFAULT_DB_ALIAS
) -> tuple[int, Any, Any]:
    """count/min/max of column `key` over at most `limit` rows of a partition."""
    query = sql.SQL(
        "SELECT count(*) AS n, min(k) AS lo, max(k) AS hi FROM (SELECT {} AS k FROM {} LIMIT %s) s"
    ).format(sql.Identifier(key), sql.Identifier(schema, partition))
    row = sql.fetch_one(query, [limit], using=using)
    return row["n"], row["lo"], row["hi"]


def rows_in_range(
    schema: str, partition: str, key: str, start, end, *, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Rows of a (default) partition with `key` in [start, end)."""
    query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {} >= %s AND {} < %s").format(
        sql.Identifier(schema, partition), sql.Identifier(key), sql.Identifier(key)
    )
    return sql.fetch_one(query, [start, end], using=using)["n"]
