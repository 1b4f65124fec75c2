"""Slow queries from pg_stat_statements (read only: never resets the statistics)."""

from __future__ import annotations

from typing import Any

from .. import querytext
from ..runner import fetch, fetch_one

STATUS_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       coalesce(current_setting('shared_preload_libraries', true), '') AS preload
LIMIT 1
"""

ORDERS = {
    "total": "total_exec_time DESC",
    "mean": "mean_exec_time DESC",
    "calls": "calls DESC",
}

SLOW_QUERIES_SQL = """
WITH s AS (
    SELECT queryid, userid, left(query, 2000) AS query, calls, rows,
           total_exec_time, mean_exec_time, max_exec_time,
           shared_blks_hit, shared_blks_read,
           total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0) AS share
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT s.queryid, r.rolname AS username, s.query, s.calls, s.rows,
       s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms, s.max_exec_time AS max_ms,
       s.shared_blks_hit, s.shared_blks_read, coalesce(s.share, 0) AS share
FROM s LEFT JOIN pg_roles r ON r.oid = s.userid
ORDER BY {order_by} LIMIT %s
"""


def pg_stat_statements_status() -> dict[str, Any]:
    row = fetch_one(STATUS_SQL)
    installed = bool(row and row["installed"])
    preloaded = bool(row and "pg_stat_statements" in row["preload"])
    return {"installed": installed, "preloaded": preloaded, "available": installed and preloaded}


def slow_queries(order: str = "total", limit: int = 50) -> list[dict[str, Any]]:
    """Top statements of this database."""
    order_by = ORDERS.get(order, ORDERS["total"])
    return fetch(SLOW_QUERIES_SQL.format(order_by=order_by), [limit])


def report(order: str = "total", limit: int = 50) -> dict[str, Any]:
    from . import settings  # settings findings read this module's status

    status = pg_stat_statements_status()
    rows: list[dict] = []
    error = ""
    if status["available"]:
        try:
            rows = slow_queries(order, limit)
            for r in rows:  # utility statements are kept verbatim (ALTER ROLE … PASSWORD …)
                r["query"] = querytext.mask_literals(r.get("query"))
        except Exception as exc:  # e.g. not preloaded in this server
            error = str(exc).splitlines()[0]
            status["available"] = False
    for r in rows:
        r["queryid"] = str(r["queryid"]) if r["queryid"] is not None else None
    return {
        "extension": status,
        "order": order if order in ORDERS else "total",
        "error": error,
        "queries": rows,
        "findings": [f.as_dict() for f in settings.extension_findings(status)],
    }
