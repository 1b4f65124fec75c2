"""Sequences near exhaustion, measured against the sequence's own max and the column it feeds
(a bigint sequence behind an integer column runs out at the column's 2^31 - 1)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS

from .. import conf
from ..runner import USER_SCHEMAS, fetch, ident
from .base import FindingCandidate, Severity, check, finding

# One row per (sequence, column it feeds): owned-by (serial, identity) or used in a column
# default (nextval('s')). pg_sequences shows last_value only to a role that may use the
# sequence, hence the app's login (USAGE on its sequences), not the monitor's.
SEQUENCES_SQL = f"""
WITH feeds AS (
    SELECT d.refobjid AS seq, d.objid AS tbl, d.objsubid AS attnum
    FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.deptype IN ('a', 'i') AND d.objsubid > 0
    UNION
    SELECT d.refobjid, ad.adrelid, ad.adnum
    FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
)
SELECT s.schemaname AS schema, s.sequencename AS name, s.data_type::text AS seq_type,
       s.last_value, s.max_value, s.increment_by,
       tn.nspname AS table_schema, t.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type,
       CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647
            ELSE 9223372036854775807 END::numeric AS column_max
FROM pg_sequences s
JOIN pg_class sc ON sc.relname = s.sequencename
JOIN pg_namespace n ON n.oid = sc.relnamespace AND n.nspname = s.schemaname
JOIN feeds f ON f.seq = sc.oid
JOIN pg_class t ON t.oid = f.tbl
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = f.tbl AND a.attnum = f.attnum
WHERE {USER_SCHEMAS} AND s.increment_by > 0 AND s.last_value IS NOT NULL
  AND NOT t.relispartition
ORDER BY s.last_value::numeric / least(s.max_value::numeric, 9223372036854775807) DESC
LIMIT %s
"""


def usage(limit: int = 2_000) -> list[dict]:
    rows = fetch(SEQUENCES_SQL, [limit], using=DEFAULT_DB_ALIAS, read_only=True)
    for r in rows:
        r["usable_max"] = min(int(r["max_value"]), int(r["column_max"]))
        r["used"] = int(r["last_value"]) / r["usable_max"]
    return rows


def _fix(r: dict) -> str:
    """Widen whatever runs out: the column (a table rewrite) and/or the sequence."""
    parts = []
    if r["column_type"] in ("smallint", "integer"):
        parts.append(
            f"ALTER TABLE {ident(r['table_schema'], r['table_name'])} "
            f"ALTER COLUMN {ident(r['column_name'])} TYPE bigint;"
            "  -- rewrites the table under ACCESS EXCLUSIVE (blocks reads and writes)"
        )
    if r["seq_type"] in ("smallint", "integer"):
        parts.append(f"ALTER SEQUENCE {ident(r['schema'], r['name'])} AS bigint;")
    if not parts:
        parts.append(
            f"-- {r['schema']}.{r['name']} is bigint already: raise MAXVALUE or CYCLE deliberately"
        )
    return "\n".join(parts)


@check("tables", "sequence.exhaustion")
def sequence_exhaustion(report: dict) -> Iterable[FindingCandidate]:
    warning, critical = conf.get("SEQUENCE_USED_WARNING"), conf.get("SEQUENCE_USED_CRITICAL")
    for r in usage():
        if r["used"] < warning:
            continue
        limit = "column" if r["column_max"] < r["max_value"] else "sequence"
        yield finding(
            "sequence.exhaustion",
            f"{r['schema']}.{r['name']}",
            f"Sequence {r['schema']}.{r['name']} has used {r['used']:.1%} of its range "
            f"(feeds {r['table_name']}.{r['column_name']} {r['column_type']})",
            severity=Severity.CRITICAL if r["used"] >= critical else Severity.WARNING,
            evidence={
                "last_value": r["last_value"],
                "sequence_max": r["max_value"],
                "sequence_type": r["seq_type"],
                "column": f"{r['table_schema']}.{r['table_name']}.{r['column_name']}",
                "column_type": r["column_type"],
                "usable_max": r["usable_max"],
                "limited_by": limit,
                "remaining": r["usable_max"] - int(r["last_value"]),
            },
            fix=_fix(r),
        )
