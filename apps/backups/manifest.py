"""What a backup promises, measured in the dump's own snapshot: per table, the exact row count
and a checksum of sample rows (the first and last rows by primary key). A restore is compared
with it table by table."""

from __future__ import annotations

import hashlib
from pathlib import Path

from psycopg import sql

from .pg import quote_ident

SAMPLE_ROWS = 50  # from each end of the primary key

# Ordinary tables and leaf partitions of every user schema, without extension-owned ones; the
# primary key's columns in key order (partitions carry their own copy of the parent's key).
TABLES_SQL = """
SELECT n.nspname, c.relname,
       (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
         WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2
"""


# Schema objects a restore must bring back besides the rows (a restore that skipped an index or a
# trigger would still count the same rows). Extension members are excluded on both sides.
SCHEMA_SQL = """
WITH user_ns AS (
  SELECT oid FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
), own AS (
  SELECT c.oid, c.relkind FROM pg_class c
   WHERE c.relnamespace IN (SELECT oid FROM user_ns)
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT
  (SELECT count(*) FROM own WHERE relkind IN ('r', 'p')) AS tables,
  -- pg_dump leaves out invalid indexes (a failed CREATE INDEX CONCURRENTLY): so does this.
  (SELECT count(*) FROM own JOIN pg_index i ON i.indexrelid = own.oid
    WHERE own.relkind = 'I' OR i.indisvalid) AS indexes,
  (SELECT count(*) FROM own WHERE relkind = 'v') AS views,
  (SELECT count(*) FROM own WHERE relkind = 'm') AS matviews,
  (SELECT count(*) FROM own WHERE relkind = 'S') AS sequences,
  (SELECT count(*) FROM pg_constraint WHERE conrelid IN (SELECT oid FROM own)) AS constraints,
  (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
      AND tgrelid IN (SELECT oid FROM own)) AS triggers,
  (SELECT count(*) FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM user_ns)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                       AND d.objid = p.oid AND d.deptype = 'e')) AS functions
"""


def schema_stats(conn) -> dict[str, int]:
    cursor = conn.execute(SCHEMA_SQL)
    row = cursor.fetchone()
    return {column.name: value for column, value in zip(cursor.description, row, strict=True)}


def _sample_query(schema: str, table: str, pk: list[str]) -> sql.Composed:
    name = sql.SQL(quote_ident(schema) + "." + quote_ident(table))
    asc = sql.SQL(", ").join(sql.SQL(quote_ident(c)) for c in pk)
    desc = sql.SQL(", ").join(sql.SQL(quote_ident(c) + " DESC") for c in pk)
    # Row text is compared, sorted, so the checksum does not depend on the plan's order.
    return sql.SQL(
        "SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM ("
        "(SELECT t::text AS x FROM {name} t ORDER BY {asc} LIMIT {n})"
        " UNION "
        "(SELECT t::text AS x FROM {name} t ORDER BY {desc} LIMIT {n})) s"
    ).format(name=name, asc=asc, desc=desc, n=sql.Literal(SAMPLE_ROWS))


def table_stats(conn) -> dict[str, dict]:
    """{"schema.table": {"rows": n, "sample": md5 | None}} read in the connection's current
    transaction (the caller makes it REPEATABLE READ: one snapshot for every table)."""
    # Text output of timestamps and floats depends on these; fix them on both sides.
    conn.execute("SET LOCAL TimeZone = 'UTC'")
    conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    conn.execute("SET LOCAL extra_float_digits = 1")
    out: dict[str, dict] = {}
    for schema, table, pk in conn.execute(TABLES_SQL).fetchall():
        name = sql.SQL(quote_ident(schema) + "." + quote_ident(table))
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()[0]
        sample = None
        if pk:
            sample = conn.execute(_sample_query(schema, table, pk)).fetchone()[0]
        out[f"{schema}.{table}"] = {"rows": rows, "sample": sample}
    return out


def compare_schema(expected: dict[str, int], actual: dict[str, int]) -> list[dict]:
    return [
        {"table": "(schema)", "problem": kind, "expected": expected[kind], "got": actual.get(kind)}
        for kind in sorted(expected)
        if expected[kind] != actual.get(kind)
    ]


def compare(expected: dict[str, dict], actual: dict[str, dict]) -> list[dict]:
    """Every difference between a manifest's tables and a restored database's."""
    problems: list[dict] = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append({"table": name, "problem": "not in the manifest"})
        elif got is None:
            problems.append({"table": name, "problem": "missing after restore"})
        elif want["rows"] != got["rows"]:
            problems.append(
                {
                    "table": name,
                    "problem": "row count",
                    "expected": want["rows"],
                    "got": got["rows"],
                }
            )
        elif want["sample"] != got["sample"]:
            problems.append({"table": name, "problem": "sample rows checksum differs"})
    return problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
