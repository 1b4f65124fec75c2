"""Every raw SQL statement of the partition tooling (the ORM cannot express catalog reads or
partition DDL). Identifiers are quoted with the connection's `quote_name`; values are parameters."""

from __future__ import annotations

from collections.abc import Callable

Quote = Callable[[str], str]

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
SELECT n.nspname,
       c.relname,
       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $$FROM \('([^']+)'\)$$)::timestamptz,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM $$TO \('([^']+)'\)$$)::timestamptz,
       pg_get_expr(c.relpartbound, c.oid),
       c.reltuples::bigint,
       pg_total_relation_size(c.oid),
       obj_description(c.oid, 'pg_class')
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = %s::regclass
ORDER BY is_default, 4, c.relname
"""

# SET LOCAL with a parameter: lasts until the end of the current transaction.
SET_LOCAL_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"


def default_sample(qn: Quote, schema: str, partition: str, key: str) -> str:
    """count/min/max of the key over at most %s rows of a default partition."""
    return (
        f"SELECT count(*), min(k), max(k) FROM "
        f"(SELECT {qn(key)} AS k FROM {qn(schema)}.{qn(partition)} LIMIT %s) s"
    )


def rows_in_range(qn: Quote, schema: str, partition: str, key: str) -> str:
    """Rows of a (default) partition with key in [%s, %s)."""
    return (
        f"SELECT count(*) FROM {qn(schema)}.{qn(partition)} "
        f"WHERE {qn(key)} >= %s AND {qn(key)} < %s"
    )


def detach_into_schema(qn: Quote, parent: str, schema: str, partition: str, target: str) -> list:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {qn(target)}",
        f"ALTER TABLE {qn(parent)} DETACH PARTITION {qn(schema)}.{qn(partition)}",
        f"ALTER TABLE {qn(schema)}.{qn(partition)} SET SCHEMA {qn(target)}",
    ]


def stash_default_rows(qn: Quote, schema: str, partition: str, key: str, stash: str) -> str:
    """Move rows with key in [%s, %s) out of a default partition into a temporary table."""
    return (
        f"CREATE TEMPORARY TABLE {qn(stash)} ON COMMIT DROP AS "
        f"WITH moved AS (DELETE FROM {qn(schema)}.{qn(partition)} "
        f"WHERE {qn(key)} >= %s AND {qn(key)} < %s RETURNING *) SELECT * FROM moved"
    )


def restore_stashed_rows(qn: Quote, parent: str, stash: str) -> str:
    """Re-insert stashed rows through the parent (same column order: partitions share it)."""
    return f"INSERT INTO {qn(parent)} SELECT * FROM {qn(stash)}"
