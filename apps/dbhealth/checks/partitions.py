"""Partitioned tables: partitions ahead of now (runway) and rows in the default partition."""

from __future__ import annotations

import re
from typing import Any

from django.db import DatabaseError
from django.utils import timezone
from psycopg import sql

from .. import conf
from ..runner import USER_SCHEMAS, as_string, fetch, fetch_one, qualified
from .base import FindingCandidate, Severity, finding

PARTITION_BOUNDS_SQL = f"""
SELECT p.oid::bigint AS parent_oid, pn.nspname AS parent_schema, p.relname AS parent,
       pt.partstrat AS strategy,
       c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       pg_get_expr(c.relpartbound, 0) AS bound,
       pg_stat_get_live_tuples(c.oid) AS live_tuples
FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
JOIN pg_namespace pn ON pn.oid = p.relnamespace
JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {USER_SCHEMAS.replace("n.nspname", "pn.nspname")}
ORDER BY pn.nspname, p.relname, c.relname
LIMIT %s
"""


def partition_bounds(limit: int = 50_000) -> list[dict[str, Any]]:
    """Every direct partition of every partitioned table with its bound expression."""
    return fetch(PARTITION_BOUNDS_SQL, [limit], timeout_ms=10_000)


def bound_cast_timestamptz(values: list[str]) -> list[Any]:
    """Let the server parse range bound literals (any date/timestamp spelling) in one call."""
    if not values:
        return []
    rows = fetch(
        """
        SELECT v.ord, CASE WHEN v.val ~ '^\\d{4}-\\d{2}-\\d{2}' THEN v.val::timestamptz END AS ts
        FROM unnest(%s::text[]) WITH ORDINALITY v(val, ord) ORDER BY v.ord LIMIT %s
        """,
        [values, len(values)],
    )
    return [r["ts"] for r in rows]


def default_partition_rows(schema: str, name: str, cap: int = 100_000) -> int:
    """Exact row count of one default partition, capped (one page never counts more).

    Through `flowbase_default_partition_rows()` (SECURITY DEFINER, the owner's, executable by the
    monitor only): the monitor role counts the rows of a default partition without being able to
    read them (the audit log's included)."""
    row = fetch_one(
        "SELECT public.flowbase_default_partition_rows(%s::regclass, %s) AS n LIMIT 1",
        [as_string(sql.Identifier(schema, name)), cap],
        timeout_ms=3_000,
    )
    return int(row["n"] or 0) if row else 0


_RANGE_BOUND = re.compile(r"FOR VALUES FROM \((.+?)\) TO \((.+?)\)$")


def _bound_literal(text: str) -> str | None:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return None


def health() -> list[dict[str, Any]]:
    """Per partitioned table: partitions, partitions ahead of now, runway, rows in default."""
    rows = partition_bounds()
    parents: dict[int, dict] = {}
    literals: list[str] = []
    slots: list[tuple[dict, str]] = []
    for r in rows:
        p = parents.setdefault(
            r["parent_oid"],
            {
                "oid": r["parent_oid"],
                "schema": r["parent_schema"],
                "name": r["parent"],
                "qualified_name": qualified(r["parent_schema"], r["parent"]),
                "strategy": {"r": "range", "l": "list", "h": "hash"}.get(
                    r["strategy"], r["strategy"]
                ),
                "partitions": 0,
                "ahead": None,
                "runway_until": None,
                "default_partition": None,
                "default_rows": 0,
                "_ranges": [],
            },
        )
        p["partitions"] += 1
        bound = r["bound"] or ""
        if bound == "DEFAULT":
            p["default_partition"] = qualified(r["schema"], r["name"])
            try:
                p["default_rows"] = default_partition_rows(
                    r["schema"], r["name"], conf.get("DEFAULT_PARTITION_ROWS_CAP")
                )
            except DatabaseError:  # locked (lock_timeout) or slow: estimate instead
                p["default_rows"] = int(r["live_tuples"] or 0)
                p["default_rows_estimated"] = True
            continue
        m = _RANGE_BOUND.match(bound)
        if m and r["strategy"] == "r":
            lo, hi = _bound_literal(m.group(1)), _bound_literal(m.group(2))
            if lo is not None and hi is not None:
                rng = [None, None]
                p["_ranges"].append(rng)
                slots.append((rng, "lo"))
                literals.append(lo)
                slots.append((rng, "hi"))
                literals.append(hi)
    for (rng, which), ts in zip(slots, bound_cast_timestamptz(literals), strict=True):
        rng[0 if which == "lo" else 1] = ts
    now = timezone.now()
    for p in parents.values():
        ranges = [r for r in p.pop("_ranges") if r[0] is not None and r[1] is not None]
        if ranges:
            p["ahead"] = sum(1 for lo, _ in ranges if lo > now)
            p["runway_until"] = max(hi for _, hi in ranges)
            p["runway_hours"] = round((p["runway_until"] - now).total_seconds() / 3600, 1)
    return sorted(parents.values(), key=lambda p: (p["schema"], p["name"]))


def findings(parts: list[dict[str, Any]]) -> list[FindingCandidate]:
    out = []
    for p in parts:
        obj = f"{p['schema']}.{p['name']}"
        if p["default_rows"]:
            out.append(
                finding(
                    "partition.default_rows",
                    obj,
                    f"{p['default_rows']:,} rows sit in the default partition of {p['qualified_name']}",
                    evidence={
                        "default_partition": p["default_partition"],
                        "rows": p["default_rows"],
                    },
                    fix=(
                        "-- create the missing partitions (rows in the default block creating them):\n"
                        "-- move rows out in batches, then: python manage.py pgpartition --yes --skip-delete"
                    ),
                )
            )
        if p["ahead"] is not None and p["ahead"] < conf.get("PARTITIONS_AHEAD_MIN"):
            out.append(
                finding(
                    "partition.no_runway",
                    obj,
                    f"{p['qualified_name']} has {p['ahead']} partitions ahead of now",
                    severity=Severity.CRITICAL,
                    evidence={"runway_until": p["runway_until"], "partitions": p["partitions"]},
                    fix="python manage.py pgpartition --yes --skip-delete",
                )
            )
    return out
